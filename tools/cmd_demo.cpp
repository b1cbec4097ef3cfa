// liteai demo: the main job end to end on SYNTHETIC chest-radiograph phantoms rendered on the fly
// (no patient data, nothing to download); the stages, their figures and the report are the task
// app::run_demo (include/liteai/app/demo_tasks.hpp). Progress goes to stderr, a summary to stdout.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/demo_tasks.hpp"
#include "liteai/app/report.hpp"

LAI_COMMAND(demo, "the main job end to end on synthetic phantoms, with a self-contained HTML report") {
  using namespace liteai;
  auto p = cli::parse(app::demo_options(), args, "usage: liteai demo [--out DIR] [--size S] [--quick] [options]\n");
  if (!p) return 0;
  const app::DemoOutcome d = app::run_demo(p->options);
  const io::Json& m = d.metrics;
  std::printf("liteai demo — SYNTHETIC chest-radiograph phantoms (not patient data)\n");
  for (const auto& s : d.stages)
    std::printf("  %-70s %-18s %7.1f s\n", s.title.c_str(), s.status.c_str(), s.seconds);
  const io::Json& e = m.at("evaluation");
  std::printf("accuracy: %.4f\nmacro AUROC: %.4f\nECE: %.4f\n", e.get_number("accuracy"), e.get_number("macro_auroc"),
              e.get_number("ece"));
  const io::Json& a = m.at("anomaly");
  std::printf("WPM image AUROC %.3f, pixel AUROC %.3f, senafas image AUROC %.3f\n", a.get_number("wpm_image_auroc"),
              a.get_number("wpm_pixel_auroc"), a.get_number("senafas_image_auroc"));
  std::printf("distilled student accuracy %.4f (teacher %.4f)\n", m.at("distill").at("student").get_number("accuracy"),
              m.at("distill").at("teacher").get_number("accuracy"));
  std::printf("federated merged accuracy %.4f\n", m.at("federated").get_number("merged_accuracy"));
  std::printf("reloaded predictions differ by at most %g\n", m.at("reload").get_number("max_difference"));
  if (m.at("c_api").get_string("status") == "ran")
    std::printf("the C example on the saved model differs by at most %g\n", m.at("c_api").get_number("max_difference"));
  else
    std::printf("the C example on the saved model: not in this build\n");
  std::printf("report: %s (metrics.json beside it)\ndemo finished in %.1f s (CPU %.1f s)\n", d.report.c_str(), d.seconds,
              d.cpu_seconds);
  return 0;
}
