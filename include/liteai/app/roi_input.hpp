#pragma once
// ROI-guided input (SPEC section 6, "anomalous ROI extraction before training"): a model whose
// preprocessing has an ROI part (nn::RoiPreprocessing, e.g. roi_cxr trained with --roi PM.lpm)
// reads each image as the whole image plus its k most anomalous regions at full resolution
// (data::roi_planes_into), the regions chosen on the image's WPM against the ProbMat the model
// names. Training, evaluation and prediction all get their input through roi_input(), so they
// cut the same regions from the same raw image.
//
//   attach_roi(*model, "pm.lpm", 2, 128);             // records path and SHA-256 in the model
//   data::LoaderOptions lo = optim::loader_options_for(*model, 16, 1);  // lo.roi = roi_input(*model)
//   Tensor p = app::predict(*model, {radiograph});   // the same regions from the raw image
#include <cstdint>
#include <string>

#include "liteai/data/roi.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

// Makes `model` (roi_cxr with `k` crops) read its input through the ProbMat file `probmat`
// (regions of `size` image pixels): records the file's absolute path and SHA-256. A model that
// already has an ROI ProbMat (resumed, --init) must get the same file (same hash).
void attach_roi(nn::Model& model, const std::string& probmat, int64_t k, int64_t size);
// The ProbMat of an ROI model has moved: `probmat` is where it is now; its SHA-256 must be the
// recorded one (throws naming both otherwise).
void relocate_roi(nn::Model& model, const std::string& probmat);

// The model's ROI input: the WPM of each image against its ProbMat, as calibrated in the .lpm
// file (the calibration's finalize and map settings; the defaults when it has none). Inactive
// for a model without ROI preprocessing. The ProbMat is read (and its hash checked) once per
// hash and kept while any input made from it lives, plus the most recent one.
data::RoiInput roi_input(const nn::Model& model);

}  // namespace liteai::app
