#pragma once
// Whole-model files (.lai, io/model_file.hpp): architecture (ArchSpec), weights and buffers,
// class names, preprocessing, and optionally the optimizer state and training progress so
// training can resume. Saving is atomic. Loading first builds the architecture as shapes only (no
// memory, nothing initialized), checks every tensor's name and shape against the file (errors
// name the tensor), and only then adopts the file's tensors: a header that disagrees with its
// tensors (an edited size) is refused before anything big exists.
//
// Header (JSON):
//   {"kind": "liteai-model", "architecture": {"name": "compact_cxr", "size": 512, ...},
//    (a graph: {"name": "graph", "head": .., "classes": .., "graph": <nn::Graph::to_json()>}),
//    "class_names": [...], "preprocessing": {"width", "height", "channels", "standardize"},
//    "parameters": 134,...,
//    "optimizer": {"name": "adam", "meta": {"steps": .., "lr": .., ...}}   (optional)
//    "training": {...}}                                                    (optional, free-form)
// Tensors: the module's state() names ("conv1.weight", "stage1.bn1.running_mean"; a graph's
// "<node>.<slot>"), then the optimizer's state under "optimizer/<param>.<slot>".
#include <map>
#include <memory>
#include <string>

#include "liteai/io/json.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::nn {

struct OptimizerState {
  std::string name;  // "" = none
  NamedTensors tensors;
  std::map<std::string, double> meta;
};

struct SavedModel {
  std::shared_ptr<Model> model;
  OptimizerState optimizer;  // empty name when the file has none
  io::Json training;         // what the trainer stored (epoch, best loss, ...), null if none
  io::Json header;           // the whole header
  NamedTensors extra;        // tensors saved with `extra` (names without the "extra/" prefix)
};

// Writes `model` (and the optional optimizer state / training info) to `path` atomically.
// `extra`: tensors kept beside the model under "extra/<name>" (e.g. an anomaly detector's
// calibration map); they come back in SavedModel::extra.
void save_model(const std::string& path, const Model& model, const OptimizerState* optimizer = nullptr,
                const io::Json& training = io::Json(), const NamedTensors* extra = nullptr);
// Same, into memory (C API).
std::vector<uint8_t> save_model_to_bytes(const Model& model, const OptimizerState* optimizer = nullptr,
                                         const io::Json& training = io::Json());

// Loads a model file: rebuilds the architecture and copies the weights. Errors name the file
// and the problem (missing tensor, shape mismatch, unknown architecture, corrupt file).
SavedModel load_model(const std::string& path, bool with_optimizer = true);
// For inference: the weights stay in the file, mapped read-only (io::map_model_file) instead of
// copied; large Dense layers read them block by block and give the pages back (Dense::forward), so
// a process holds a few MB of them, and processes that map the same file share one copy. The
// weights cannot be changed in place (a Trainer copies them first). with_optimizer: the optimizer
// state too, mapped as well (Trainer::resume copies from it). keep_bf16: bf16 tensors of the file
// stay bf16 and mapped too (else they become f32 copies; Trainer::resume of bf16 master weights).
SavedModel load_model_mapped(const std::string& path, bool with_optimizer = false, bool keep_bf16 = false);
SavedModel load_model_from_bytes(const void* data, size_t size, const std::string& name = "model.lai",
                                 bool with_optimizer = true);
// Loads a model file for inference only, in eval mode with that inference precision and no
// parameter needing a gradient (no optimizer state). bf16_storage reads the dense kernels (2-D
// weights) straight into bf16, bf16_compute every kernel (dense and conv weights): those fp32 values never
// exist whole in memory (compact_cxr 512: 268 instead of 537 MB). The model then computes with the
// rounded weights in every precision and cannot train (nn::Dense refuses); load_model gives a
// model that can. f32: the same model as load_model, without optimizer state.
SavedModel load_model_for_inference(const std::string& path, Precision precision);

// The header as JSON for a model (what save_model writes, without tensors).
io::Json model_header(const Model& model);

}  // namespace liteai::nn
