#include "liteai/app/data_tasks.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "liteai/core/error.hpp"
#include "liteai/core/log.hpp"

namespace liteai::app {

const OptionSet& synth_options() {
  static const OptionSet s = [] {
    OptionSet o("synth",
                "Writes N SYNTHETIC chest-radiograph phantoms (drawn by formula, no patient data): "
                "DIR/images/NNNNNN.png (8-bit gray, S x S), DIR/masks/NNNNNN_mask.png (255 on the finding's pixels), "
                "DIR/manifest.csv (path,label,mask,kind,cx,cy,r,x0,y0,x1,y1; for liteai train --data), "
                "DIR/findings.csv (one row per finding) and DIR/README.txt. Classes: normal, foreign_body "
                "(coin/button/ECG electrode), nodule, opacity, effusion; image i gets class LIST[i mod len].");
    o.group("phantoms")
        .path("out", "the folder to write", "DIR")
        .integer("n", 100, 1, 100000000, "phantoms to write")
        .integer("size", 512, 32, 8192, "S x S pixels")
        .integer("seed", 1, 0, std::numeric_limits<int64_t>::max(), "the set (same seed: same images)")
        .list("classes", "classes in turn, by index or name (default 0,1,2,3,4; 0 for normals only)")
        .number("noise", 1.0, 0, 100, "noise scale");
    o.include(common_options());
    return o;
  }();
  return s;
}

data::SynthSummary write_phantoms(const Options& o, const Hooks& hooks) {
  apply_common(o);
  const std::string task = o.spec().task();
  o.require("out");
  data::PhantomOptions opt;
  opt.size = int(o.get_int("size"));
  opt.noise = float(o.get_number("noise"));
  if (o.has("classes")) {
    opt.classes.clear();
    const auto& names = data::phantom_class_names();
    for (const std::string& item : o.get_list("classes")) {
      int c = -1;
      for (size_t k = 0; k < names.size(); ++k)
        if (item == names[k] || item == std::to_string(k)) c = int(k);
      LAI_CHECK(c >= 0, task, ": unknown class '", item,
                "' in --classes (0..4 or normal, foreign_body, nodule, opacity, effusion)");
      opt.classes.push_back(c);
    }
  }
  const int mode = progress_mode(o);
  const bool show = mode == 1 || (mode < 0 && ::isatty(2));
  const bool tty = ::isatty(2) && !has_log_sink();
  size_t last = 0;
  auto progress = [&](size_t done, size_t total) {
    if (show) {
      if (tty) {
        std::fprintf(stderr, "\r%s: %zu/%zu images%s", task.c_str(), done, total, done == total ? "\n" : "");
      } else if (done == total || done - last >= std::max<size_t>(total / 10, 1)) {
        log(LogLevel::info, str_cat(task, ": ", done, "/", total, " images"));
        last = done;
      }
    }
    if (hooks.progress) {
      optim::Progress p;
      p.epoch = p.epochs = 1;
      p.step = p.global_step = int64_t(done);
      p.steps_per_epoch = int64_t(total);
      if (!hooks.progress(p)) throw Error(ErrorKind::cancelled, str_cat(task, ": cancelled by the progress callback"));
    }
  };
  return data::write_phantom_set(o.get_text("out"), size_t(o.get_int("n")), uint64_t(o.get_int("seed")), opt, progress);
}

}  // namespace liteai::app
