#pragma once
// Data tasks: writing the SYNTHETIC chest-radiograph phantoms (drawn by formula, no patient data)
// that the demo and the tests train on.
#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/data/phantom.hpp"

namespace liteai::app {

const OptionSet& synth_options();  // task "synth"
// Writes --n phantoms to --out (images, masks, manifest.csv, findings.csv, README.txt).
data::SynthSummary write_phantoms(const Options& o, const Hooks& hooks = {});

}  // namespace liteai::app
