#include "liteai/app/report.hpp"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "liteai/core/parallel.hpp"
#include "liteai/io/file.hpp"

namespace liteai::app {

namespace {
std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
// The value of "Key:   value" in /proc-style text (first match), trimmed.
std::string proc_field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    const size_t a = v.find_first_not_of(" \t");
    return a == std::string::npos ? "" : v.substr(a);
  }
  return "";
}
int64_t status_kib(const char* key) {
  const std::string v = proc_field(read_text("/proc/self/status"), key);
  return v.empty() ? 0 : std::atoll(v.c_str()) * 1024;
}
}  // namespace

io::Json MachineInfo::to_json() const {
  io::Json j = io::Json::object();
  j.set("cpu_model", cpu_model);
  j.set("cores", cores);
  j.set("threads", threads);
  j.set("ram_bytes", ram_bytes);
  j.set("ram_gib", double(ram_bytes) / (1024.0 * 1024 * 1024));
  j.set("os", os);
  j.set("compiler", compiler);
  return j;
}

std::string MachineInfo::describe() const {
  char ram[32];
  std::snprintf(ram, sizeof ram, "%.1f GiB", double(ram_bytes) / (1024.0 * 1024 * 1024));
  return str_cat(cpu_model.empty() ? "unknown CPU" : cpu_model, ", ", cores, " logical cores (", threads,
                 " threads used), ", ram, " RAM, ", os);
}

MachineInfo machine_info() {
  MachineInfo m;
  const std::string cpu = read_text("/proc/cpuinfo");
  m.cpu_model = proc_field(cpu, "model name");
  if (m.cpu_model.empty()) m.cpu_model = proc_field(cpu, "Hardware");
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  m.cores = n > 0 ? int(n) : 0;
  m.threads = num_threads();
  const std::string mem = proc_field(read_text("/proc/meminfo"), "MemTotal");
  m.ram_bytes = mem.empty() ? 0 : std::atoll(mem.c_str()) * 1024;
  struct utsname u;
  if (uname(&u) == 0) m.os = str_cat(u.sysname, " ", u.release, " ", u.machine);
#if defined(__clang__)
  m.compiler = str_cat("clang ", __clang_major__, ".", __clang_minor__);
#elif defined(__GNUC__)
  m.compiler = str_cat("gcc ", __GNUC__, ".", __GNUC_MINOR__);
#endif
  return m;
}

int64_t current_rss_bytes() { return status_kib("VmRSS"); }
int64_t peak_rss_bytes() { return status_kib("VmHWM"); }
void reset_peak_rss() {
  // Linux >= 4.0: writing 5 resets the peak resident set size (VmHWM) to the current one.
  std::ofstream f("/proc/self/clear_refs");
  if (f) f << "5";
}

double process_cpu_seconds() {
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_figure(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

HtmlReport::Cell HtmlReport::Cell::of(double v, const std::string& key, int digits) {
  Cell c;
  c.text = format_figure(v, digits);
  c.key = key;
  c.digits = digits;
  return c;
}

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {}

void HtmlReport::banner(const std::string& text) { banner_ += "<p class=\"banner\">" + html_escape(text) + "</p>\n"; }

void HtmlReport::close_figures() {
  if (in_figures_) body_ += "</div>\n";
  in_figures_ = false;
}

void HtmlReport::section(const std::string& id, const std::string& title, const std::string& status) {
  close_figures();
  if (in_section_) body_ += "</section>\n";
  in_section_ = true;
  body_ += "<section id=\"" + html_escape(id) + "\" data-status=\"" + html_escape(status.empty() ? "ran" : status) +
           "\">\n<h2>" + html_escape(title);
  if (!status.empty()) body_ += " <span class=\"badge\">" + html_escape(status) + "</span>";
  body_ += "</h2>\n";
}

void HtmlReport::paragraph(const std::string& text) {
  close_figures();
  body_ += "<p>" + html_escape(text) + "</p>\n";
}

void HtmlReport::html(const std::string& raw) {
  close_figures();
  body_ += raw + "\n";
}

void HtmlReport::figure(const std::string& label, const std::string& key, double value, int digits) {
  if (!in_figures_) body_ += "<div class=\"figures\">\n";
  in_figures_ = true;
  body_ += "<div class=\"figure\"><div class=\"label\">" + html_escape(label) + "</div><div class=\"value\"";
  if (!key.empty()) body_ += str_cat(" data-metric=\"", html_escape(key), "\" data-digits=\"", digits, "\"");
  body_ += ">" + format_figure(value, digits) + "</div></div>\n";
}

void HtmlReport::table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
                       const std::string& caption) {
  close_figures();
  std::string t = "<table>\n";
  if (!caption.empty()) t += "<caption>" + html_escape(caption) + "</caption>\n";
  t += "<tr>";
  for (const auto& h : header) t += "<th>" + html_escape(h) + "</th>";
  t += "</tr>\n";
  for (const auto& row : rows) {
    t += "<tr>";
    for (const Cell& c : row) {
      t += "<td";
      if (!c.key.empty()) t += str_cat(" data-metric=\"", html_escape(c.key), "\" data-digits=\"", c.digits, "\"");
      if (!c.style.empty()) t += " style=\"" + html_escape(c.style) + "\"";
      t += ">" + html_escape(c.text) + "</td>";
    }
    t += "</tr>\n";
  }
  body_ += t + "</table>\n";
}

void HtmlReport::chart(const data::Chart& c, int width, int height) {
  close_figures();
  body_ += "<div class=\"chart\">" + c.svg(width, height) + "</div>\n";
}

void HtmlReport::images(const std::vector<std::pair<std::string, std::string>>& files, int width_px) {
  close_figures();
  body_ += "<div class=\"images\">\n";
  for (const auto& [file, caption] : files) {
    body_ += "<figure><img src=\"" + html_escape(file) + "\" alt=\"" + html_escape(caption) + "\"";
    if (width_px > 0) body_ += str_cat(" width=\"", width_px, "\"");
    body_ += " data-state=\"pending\"><figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
  }
  body_ += "</div>\n";
}

std::string HtmlReport::str() const {
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title_) +
      "</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222;background:#fff}\n"
      "h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\n"
      ".banner{background:#fff3cd;border:1px solid #e0c36a;padding:.6em;font-weight:bold}\n"
      ".badge{font-size:.6em;background:#888;color:#fff;border-radius:.4em;padding:.1em .5em;vertical-align:middle}\n"
      "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}\n"
      "th{background:#eee}caption{font-weight:bold;text-align:left;padding:.2em 0}\n"
      ".figures{display:flex;flex-wrap:wrap;gap:.8em;margin:.6em 0}\n"
      ".figure{border:1px solid #ccc;border-radius:.4em;padding:.4em .8em;min-width:8em}\n"
      ".figure .label{font-size:.8em;color:#555}.figure .value{font-size:1.4em;font-weight:bold}\n"
      ".images{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}img{image-rendering:pixelated;border:1px solid #ccc}\n"
      "figcaption{font-size:.8em;color:#555;max-width:260px}.chart{display:inline-block;margin:.3em}\n"
      "</style>\n</head>\n<body>\n<h1>" +
      html_escape(title_) + "</h1>\n" + banner_ + body_;
  if (in_figures_) page += "</div>\n";
  if (in_section_) page += "</section>\n";
  // Marks every picture loaded or broken (for people: a broken one gets a red frame; for tests:
  // the attribute shows in the DOM).
  page +=
      "<script>\n"
      "for (const img of document.images) {\n"
      "  const mark = () => { img.dataset.state = img.naturalWidth > 0 ? 'loaded' : 'error';\n"
      "                       if (img.naturalWidth === 0) img.style.border = '3px solid red'; };\n"
      "  if (img.complete) mark(); else { img.addEventListener('load', mark); img.addEventListener('error', mark); }\n"
      "}\n"
      "</script>\n</body>\n</html>\n";
  return page;
}

void HtmlReport::write(const std::string& path) const {
  const std::string page = str();
  io::atomic_write_file(path, page.data(), page.size());
}

}  // namespace liteai::app
