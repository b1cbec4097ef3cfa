#pragma once
// ONNX import and export as tasks (interop/onnx.hpp): `liteai import`, `liteai export`,
// lai_model_import_onnx / lai_model_export_onnx, Python's import_onnx / Model.export_onnx. In a
// build without ONNX (libonnx-dev missing) they throw not_supported saying so.
#include <memory>

#include "liteai/app/options.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

bool onnx_available();

const OptionSet& import_options();  // task "import"
// Imports --onnx (a graph model; head, classes, size, preprocessing as the options say, else as
// the file's metadata says) and saves it to --out when given.
std::shared_ptr<nn::Model> import_onnx(const Options& o);

const OptionSet& export_options();  // task "export"
// Writes `model` to --out as ONNX (checked by the ONNX checker before anything is written).
void export_onnx(const nn::Model& model, const Options& o);

}  // namespace liteai::app
