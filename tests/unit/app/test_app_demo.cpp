// The demo's report writer (escaping, figures keyed to metrics.json, picture markers, no network)
// and the demo task through the registry (--quick): stages, their status, the files it writes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "liteai/app/demo_tasks.hpp"
#include "liteai/app/report.hpp"
#include "liteai/app/tasks.hpp"

using namespace liteai;

namespace {
std::string tmp(const std::string& name) {
  const char* root = std::getenv("LITEAI_TEST_TMP");
  const std::filesystem::path p = std::filesystem::path(root && *root ? root : "/tmp") / "app_demo";
  std::filesystem::create_directories(p);
  return (p / name).string();
}
std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("HtmlReport: escaped text, keyed figures, pictures marked, no network") {
  app::HtmlReport r("a <b> & \"c\"");
  r.banner("SYNTHETIC");
  r.section("one", "One", "not in this build");
  r.figure("accuracy", "evaluation.accuracy", 0.91234, 3);
  r.table({"x"}, {{app::HtmlReport::Cell::of(2.5, "t.x", 1)}, {{"<td>"}}});
  r.images({{"a.png", "caption <i>"}});
  data::Chart c;
  c.series.push_back({});
  c.series.back().x = {0, 1};
  c.series.back().y = {0, 1};
  r.chart(c);
  const std::string page = r.str();
  CHECK(page.find("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>") != std::string::npos);
  CHECK(page.find("data-status=\"not in this build\"") != std::string::npos);
  CHECK(page.find("data-metric=\"evaluation.accuracy\" data-digits=\"3\">0.912<") != std::string::npos);
  CHECK(page.find("data-metric=\"t.x\" data-digits=\"1\">2.5<") != std::string::npos);
  CHECK(page.find("&lt;td&gt;") != std::string::npos);
  CHECK(page.find("<img src=\"a.png\" alt=\"caption &lt;i&gt;\" data-state=\"pending\">") != std::string::npos);
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(page.find("src=\"http") == std::string::npos);
  CHECK(page.find("</section>") != std::string::npos);
  CHECK(app::format_figure(std::nan(""), 2) == "n/a");
  CHECK(app::format_figure(0.125, 2) == "0.12");  // printf rounding, as the page shows it
}

TEST_CASE("machine_info and memory figures are read") {
  const app::MachineInfo m = app::machine_info();
  CHECK(m.cores >= 1);
  CHECK(m.ram_bytes > 0);
  CHECK(!m.describe().empty());
  CHECK(app::peak_rss_bytes() >= app::current_rss_bytes() / 2);
  CHECK(app::process_cpu_seconds() >= 0);
}

TEST_CASE("demo --quick through the task registry: every stage, its status and files") {
  app::Options o(app::task_options("demo"));
  const std::string out = tmp("quick");
  std::filesystem::remove_all(out);
  o.set("out", out);
  o.set_bool("quick", true);
  o.set_bool("quiet", true);
  const app::DemoOutcome d = app::run_demo(o);
  REQUIRE(d.stages.size() == 7);
  for (const auto& s : d.stages) {
    INFO(s.id);
    CHECK(s.status == "ran");  // explain and repack are in this build
  }
  CHECK(d.metrics.get_bool("synthetic"));
  CHECK(d.metrics.at("reload").get_bool("identical"));
  CHECK(d.metrics.at("evaluation").get_int("samples") == 20);
  CHECK(d.metrics.at("federated").at("site_accuracy").size() == 3);
  CHECK(d.metrics.at("explain").get_int("pointing_total") == 3);
  CHECK(d.metrics.at("distill").at("repacked").get_int("file_bytes") <
        d.metrics.at("distill").at("repacked").get_int("teacher_file_bytes"));
  const io::Json on_disk = io::Json::parse(slurp(out + "/metrics.json"));
  CHECK(on_disk == d.metrics);
  const std::string page = slurp(d.report);
  CHECK(page.find("SYNTHETIC DATA") != std::string::npos);
  CHECK(page.find("data-metric=\"evaluation.macro_auroc\"") != std::string::npos);
  for (const char* f : {"roc.csv", "confusion.csv", "stages.csv", "umatrix.png", "model.lai", "federated/merged.lai"})
    CHECK(std::filesystem::exists(out + "/" + f));
  // Options are checked like every task's.
  app::Options bad(app::task_options("demo"));
  bad.set("classes", "normal,dragon");
  bad.set("out", tmp("bad"));
  CHECK_THROWS_WITH(app::run_demo(bad), Catch::Contains("'dragon' is not a phantom class"));
}
