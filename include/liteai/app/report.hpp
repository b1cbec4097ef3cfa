#pragma once
// A self-contained HTML report (one index.html, no network, opens from file://): sections with
// text, tables, key figures, inline SVG charts (data::Chart) and PNG pictures beside the page
// (relative paths). Every figure shown with a key carries it as data-metric="a.b.c" (its path in
// the run's metrics.json) and data-digits (the digits shown), so a test can compare the page
// with the JSON. Pictures report whether they loaded (data-state="loaded" / "error", set by a
// two-line script in the page) for headless-browser checks.
//
//   HtmlReport r("liteai demo");
//   r.section("train", "1. Training");
//   r.figure("Accuracy", "classification.accuracy", 0.9312);
//   r.chart(loss_chart);
//   r.image("example.png", "a phantom");
//   r.write("out/index.html");
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "liteai/data/plot.hpp"
#include "liteai/io/json.hpp"

namespace liteai::app {

// The machine a run happened on: CPU model, cores, memory, OS (from /proc and uname).
struct MachineInfo {
  std::string cpu_model, os, compiler;
  int cores = 0;    // logical CPUs online
  int threads = 0;  // the library's pool
  int64_t ram_bytes = 0;
  io::Json to_json() const;
  std::string describe() const;  // "Intel(R) Xeon(R) ..., 2 cores, 7.8 GiB RAM, Linux 6.1"
};
MachineInfo machine_info();

// Process memory: current resident set and its peak since the last reset_peak_rss() (Linux
// /proc/self; 0 elsewhere).
int64_t current_rss_bytes();
int64_t peak_rss_bytes();
void reset_peak_rss();
// CPU time of the process so far (user + system, all threads), seconds.
double process_cpu_seconds();

std::string html_escape(const std::string& text);
// The text a figure is shown with: fixed `digits` after the point ("n/a" for NaN).
std::string format_figure(double v, int digits = 4);

class HtmlReport {
 public:
  struct Cell {
    Cell(std::string t = {}, std::string k = {}, int d = 4, std::string st = {})  // NOLINT: implicit from text
        : text(std::move(t)), key(std::move(k)), digits(d), style(std::move(st)) {}
    std::string text;
    std::string key;  // data-metric path when the cell is a figure of metrics.json
    int digits = 4;
    std::string style;  // extra CSS (e.g. a background for a confusion matrix cell)
    static Cell of(double v, const std::string& key = "", int digits = 4);
  };

  explicit HtmlReport(std::string title);
  void banner(const std::string& text);  // a highlighted band under the title
  // A new section; a non-empty status (e.g. "not in this build") is shown as a badge.
  void section(const std::string& id, const std::string& title, const std::string& status = "");
  void paragraph(const std::string& text);  // escaped
  void html(const std::string& raw);        // as is
  void figure(const std::string& label, const std::string& key, double value, int digits = 4);
  void table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
             const std::string& caption = "");
  void chart(const data::Chart& chart, int width = 480, int height = 320);  // inline SVG
  // Pictures side by side, each a relative file name with a caption.
  void images(const std::vector<std::pair<std::string, std::string>>& files, int width_px = 0);
  std::string str() const;
  void write(const std::string& path) const;  // atomic

 private:
  std::string title_, body_, banner_;
  bool in_section_ = false, in_figures_ = false;
  void close_figures();
};

}  // namespace liteai::app
