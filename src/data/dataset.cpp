#include "liteai/data/dataset.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <unordered_map>
#include <map>
#include <numeric>
#include <set>
#include <unordered_set>

#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/core/log.hpp"
#include "liteai/core/random.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/decoders.hpp"
#include "liteai/io/file.hpp"

namespace fs = std::filesystem;

namespace liteai::data {

// ------------------------------------------------------------------ FileDataset

FileDataset::FileDataset(const std::vector<std::string>& paths, const std::vector<std::vector<int>>& labels,
                         std::vector<std::string> class_names, bool multi_label)
    : class_names_(std::move(class_names)), multi_label_(multi_label) {
  LAI_CHECK(paths.size() == labels.size(), "FileDataset: ", paths.size(), " paths but ", labels.size(), " label lists");
  LAI_CHECK(class_names_.size() <= 65535, "FileDataset: too many classes (", class_names_.size(), ")");
  for (size_t i = 0; i < paths.size(); ++i) {
    for (int l : labels[i])
      LAI_CHECK(l >= 0 && size_t(l) < class_names_.size(), "FileDataset: ", paths[i], ": label ", l,
                " out of range for ", class_names_.size(), " classes");
    LAI_CHECK(multi_label_ || labels[i].size() == 1, "FileDataset: ", paths[i], ": single-label data set needs exactly one label, got ",
              labels[i].size());
    add(paths[i], labels[i]);
  }
}

void FileDataset::add(const std::string& path, const std::vector<int>& labels) {
  LAI_CHECK(path_blob_.size() + path.size() < (size_t(1) << 32), "FileDataset: more than 4 GB of paths");
  // Stored relative to base_ when it is a prefix (saves most of every path's bytes).
  if (!base_.empty() && path.size() > base_.size() + 1 && path.compare(0, base_.size(), base_) == 0 && path[base_.size()] == '/')
    path_blob_.append(path, base_.size() + 1, std::string::npos);
  else
    path_blob_ += path;
  path_end_.push_back(uint32_t(path_blob_.size()));
  for (int l : labels) label_blob_.push_back(uint16_t(l));
  label_end_.push_back(uint32_t(label_blob_.size()));
}

std::string FileDataset::path(size_t i) const {
  LAI_CHECK(i < size(), "FileDataset: index ", i, " out of range (size ", size(), ")");
  const size_t b = i ? path_end_[i - 1] : 0;
  if (base_.empty() || path_blob_[b] == '/') return path_blob_.substr(b, path_end_[i] - b);
  std::string p;
  p.reserve(base_.size() + 1 + path_end_[i] - b);
  p.append(base_).push_back('/');
  p.append(path_blob_, b, path_end_[i] - b);
  return p;
}

std::vector<int> FileDataset::labels(size_t i) const {
  LAI_CHECK(i < size(), "FileDataset: index ", i, " out of range (size ", size(), ")");
  const size_t b = i ? label_end_[i - 1] : 0;
  return std::vector<int>(label_blob_.begin() + b, label_blob_.begin() + label_end_[i]);
}

Sample FileDataset::get(size_t i) const {
  Sample s;
  get_into(i, s);
  return s;
}

void FileDataset::get_into(size_t i, Sample& s) const {
  s.path = path(i);
  s.labels = labels(i);
  decode_image_into(s.path, s.image);
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(uint8_t(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(uint8_t(s[b]))) ++b;
  while (e > b && std::isspace(uint8_t(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Reads CSV records (RFC 4180: quotes, doubled quotes, commas and newlines inside quotes) from
// text already in memory.
class CsvReader {
 public:
  CsvReader(std::string_view text, const std::string& name) : t_(text), name_(name) {}
  size_t line() const { return line_; }  // lines consumed so far
  // The next record, or false at the end of the text.
  bool next(std::vector<std::string>& fields) {
    fields.clear();
    if (pos_ >= t_.size()) return false;
    std::string field;
    bool quoted = false;
    const size_t start_line = line_ + 1;
    while (pos_ < t_.size()) {
      const char c = t_[pos_++];
      if (quoted) {
        if (c == '"') {
          if (pos_ < t_.size() && t_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line_;
          field.push_back(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.push_back(std::move(field));
        field.clear();
      } else if (c == '\n') {
        ++line_;
        if (!field.empty() && field.back() == '\r') field.pop_back();
        fields.push_back(std::move(field));
        return true;
      } else {
        field.push_back(c);
      }
    }
    LAI_CHECK_FORMAT(!quoted, name_, " line ", start_line, ": unterminated quoted field");
    ++line_;
    if (!field.empty() && field.back() == '\r') field.pop_back();
    fields.push_back(std::move(field));
    return true;
  }

 private:
  std::string_view t_;
  const std::string& name_;
  size_t pos_ = 0, line_ = 0;
};

std::vector<std::string> split_labels(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  while (true) {
    size_t e = s.find(sep, b);
    std::string t = trim(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (!t.empty()) out.push_back(t);
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ", size_t max = 20) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max; ++i) s += (i ? sep : "") + v[i];
  if (v.size() > max) s += str_cat(sep, "... (", v.size(), " in all)");
  return s;
}

}  // namespace

namespace {

// What `p` names once symbolic links are followed: "" for a regular file, else "a directory",
// "a FIFO (named pipe)", ..., "a dangling symbolic link", "nothing". A symbolic link loop is an
// error.
std::string entry_kind(const fs::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) == 0) return io::describe_file_type(st.st_mode);
  const int err = errno;
  LAI_CHECK_IO(err != ELOOP, p.string(), ": symbolic link loop (", std::strerror(err), ")");
  struct stat lst;
  if (err == ENOENT) return ::lstat(p.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) ? "a dangling symbolic link" : "nothing";
  LAI_FAIL(io, p.string(), ": cannot read (", std::strerror(err), ")");
}

// The entries of a folder, sorted by name (hidden ones left out): scans are deterministic.
std::vector<fs::path> sorted_entries(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.') out.push_back(it->path());
  }
  LAI_CHECK_IO(!ec, dir.string(), ": cannot list (", ec.message(), ")");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void ScanReport::add(const std::string& path, const std::string& reason, const std::string& detail) {
  ++skipped;
  ++by_reason[reason];
  if (examples.size() < kMaxExamples) examples.push_back({path, detail.empty() ? reason : detail});
}

std::string ScanReport::summary() const {
  if (skipped == 0) return "nothing skipped";
  std::string s = str_cat("skipped ", skipped, skipped == 1 ? " entry" : " entries", " (");
  bool first = true;
  for (const auto& [reason, n] : by_reason) {
    s += str_cat(first ? "" : ", ", n, " ", reason);
    first = false;
  }
  s += "), e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) s += str_cat(i ? "; " : "", examples[i].path);
  if (skipped > examples.size()) s += "; ...";
  return s;
}

io::Json ScanReport::to_json() const {
  io::Json j = io::Json::object();
  j.set("skipped", int64_t(skipped));
  io::Json reasons = io::Json::object();
  for (const auto& [reason, n] : by_reason) reasons.set(reason, int64_t(n));
  j.set("reasons", std::move(reasons));
  io::Json ex = io::Json::array();
  for (const auto& e : examples) {
    io::Json x = io::Json::object();
    x.set("path", e.path);
    x.set("reason", e.reason);
    ex.push_back(std::move(x));
  }
  j.set("examples", std::move(ex));
  return j;
}

std::shared_ptr<FileDataset> FileDataset::from_folder(const std::string& dir, const FolderOptions& opt) {
  struct stat st;
  LAI_CHECK_IO(::stat(dir.c_str(), &st) == 0, dir, ": not a directory (", std::strerror(errno),
               "; a data set folder has one sub-folder per class)");
  LAI_CHECK(S_ISDIR(st.st_mode), dir, ": not a directory (it is ", S_ISREG(st.st_mode) ? "a regular file" : io::describe_file_type(st.st_mode),
            "; a data set folder has one sub-folder per class)");
  std::shared_ptr<FileDataset> ds(new FileDataset());
  std::vector<std::string> found;
  for (const fs::path& e : sorted_entries(dir)) {
    const std::string k = entry_kind(e);
    if (k == "a directory") found.push_back(e.filename().string());
    else if (!k.empty()) ds->scan_.add(e.string(), k);  // a regular file beside the classes is no sample
  }
  ds->base_ = dir;
  while (ds->base_.size() > 1 && ds->base_.back() == '/') ds->base_.pop_back();
  ds->class_names_ = opt.class_names.empty() ? found : opt.class_names;
  LAI_CHECK(!ds->class_names_.empty(), dir, ": no class sub-folders");
  for (const auto& f : found)
    LAI_CHECK(std::find(ds->class_names_.begin(), ds->class_names_.end(), f) != ds->class_names_.end(), dir,
              ": sub-folder '", f, "' is not one of the given classes (", join(ds->class_names_), ")");
  for (size_t c = 0; c < ds->class_names_.size(); ++c) {
    const fs::path sub = fs::path(dir) / ds->class_names_[c];
    LAI_CHECK_IO(entry_kind(sub) == "a directory", dir, ": class folder '", ds->class_names_[c], "' does not exist");
    for (const fs::path& e : sorted_entries(sub)) {
      const std::string k = entry_kind(e);
      if (!k.empty()) {
        ds->scan_.add(e.string(), k == "a directory" ? "a sub-folder (not scanned)" : k);
        continue;
      }
      const std::string ext = lower(e.extension().string());
      const bool listed = std::find(opt.extensions.begin(), opt.extensions.end(), ext) != opt.extensions.end();
      // Files without an extension are taken when a registered decoder recognises them (PACS exports).
      if (!listed && !(ext.empty() && registered_decoder_accepts_file(e.string()))) {
        ds->scan_.add(e.string(), "not an image file name");
        continue;
      }
      ds->add(e.string(), {int(c)});
    }
  }
  if (ds->scan_.skipped) log(LogLevel::info, str_cat(dir, ": ", ds->scan_.summary()));
  LAI_CHECK(ds->size() > 0, dir, ": no images found (extensions ", join(opt.extensions), "; ", ds->scan_.summary(), ")");
  return ds;
}

std::shared_ptr<FileDataset> FileDataset::from_csv(const std::string& csv_path, const CsvOptions& opt) {
  return from_csv_text(io::read_text_file(csv_path), csv_path, opt);
}

std::shared_ptr<FileDataset> FileDataset::from_csv_text(std::string_view text, const std::string& csv_path,
                                                        const CsvOptions& opt) {
  CsvReader in(text, csv_path);
  std::vector<std::string> header, row;
  LAI_CHECK_FORMAT(in.next(header), csv_path, ": empty manifest (no header line)");
  if (!header.empty() && header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);  // UTF-8 BOM
  for (auto& h : header) h = trim(h);
  // A trailing comma on the header line (NIH's Data_Entry_2017.csv has one) names no column.
  while (header.size() > 1 && header.back().empty()) header.pop_back();
  auto column = [&](const std::string& want) -> size_t {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == want) return i;
    for (size_t i = 0; i < header.size(); ++i)
      if (lower(header[i]) == lower(want)) return i;
    throw_error(str_cat(csv_path, ": no column '", want, "' (columns: ", join(header), ")"));
  };
  const size_t pcol = column(opt.path_column), lcol = column(opt.label_column);

  fs::path base = fs::path(csv_path).parent_path();
  if (!opt.image_root.empty()) base = fs::path(opt.image_root).is_absolute() ? fs::path(opt.image_root) : base / opt.image_root;

  LAI_CHECK(opt.multi_label == "yes" || opt.multi_label == "no" || opt.multi_label == "auto", csv_path,
            ": multi_label must be auto, yes or no, got '", opt.multi_label, "'");
  // One pass, compact: paths go straight into the data set's blob; labels are interned as
  // first-seen ids and renumbered at the end (to the given or the sorted class order).
  std::shared_ptr<FileDataset> ds(new FileDataset());
  ds->base_ = base.string();
  while (ds->base_.size() > 1 && ds->base_.back() == '/') ds->base_.pop_back();
  std::map<std::string, int> seen_ids;  // label -> first-seen id
  std::vector<std::string> seen_names;
  std::vector<uint32_t> row_line;       // CSV line per row, for messages after the pass
  bool any_multi = false;
  std::unordered_map<std::string, uint32_t> first_line;  // image path -> the line listing it
  while (true) {
    const size_t first = in.line() + 1;
    if (!in.next(row)) break;
    if (row.size() == 1 && trim(row[0]).empty()) continue;  // blank line
    while (row.size() > header.size() && trim(row.back()).empty()) row.pop_back();  // trailing commas
    LAI_CHECK_FORMAT(row.size() == header.size(), csv_path, " line ", first, ": ", row.size(), " fields, the header has ",
                     header.size());
    for (size_t k = 0; k < row.size(); ++k)
      LAI_CHECK_FORMAT(row[k].find('\0') == std::string::npos, csv_path, " line ", first, ": column '", header[k],
                       "' holds a NUL byte");
    const std::string p = trim(row[pcol]);
    LAI_CHECK_FORMAT(!p.empty(), csv_path, " line ", first, ": empty path in column '", header[pcol], "'");
    const std::string full = fs::path(p).is_absolute() ? p : (base / p).string();
    const auto [seen, fresh] = first_line.emplace(full, uint32_t(first));
    LAI_CHECK_FORMAT(fresh, csv_path, " line ", first, ": image '", p, "' is listed again (first on line ", seen->second,
                     ")");
    if (opt.check_paths) {
      struct stat st;
      LAI_CHECK_IO(::stat(full.c_str(), &st) == 0, csv_path, " line ", first, ": image '", full, "' does not exist (",
                   std::strerror(errno), ")");
      LAI_CHECK_IO(S_ISREG(st.st_mode), csv_path, " line ", first, ": image '", full, "' is ",
                   io::describe_file_type(st.st_mode), ", not an image file");
    }
    const std::string lab = trim(row[lcol]);
    if (lab.find(opt.label_separator) != std::string::npos) any_multi = true;
    std::vector<int> ids;
    for (const std::string& l : split_labels(lab, opt.label_separator)) {
      auto it = seen_ids.find(l);
      if (it == seen_ids.end()) {
        it = seen_ids.emplace(l, int(seen_names.size())).first;
        seen_names.push_back(l);
        LAI_CHECK(seen_names.size() <= 65535, csv_path, ": more than 65535 distinct labels");
      }
      if (std::find(ids.begin(), ids.end(), it->second) == ids.end()) ids.push_back(it->second);
    }
    ds->add(full, ids);
    row_line.push_back(uint32_t(first));
  }
  LAI_CHECK_FORMAT(ds->size() > 0, csv_path, ": manifest has a header but no rows");
  first_line = {};
  const bool multi = opt.multi_label == "yes" || (opt.multi_label == "auto" && (any_multi || !opt.no_finding.empty()));
  ds->multi_label_ = multi;
  const bool drop_no_finding = multi && !opt.no_finding.empty();
  if (!opt.class_names.empty()) {
    ds->class_names_ = opt.class_names;
  } else {
    for (const auto& n : seen_names)
      if (!(drop_no_finding && n == opt.no_finding)) ds->class_names_.push_back(n);
    std::sort(ds->class_names_.begin(), ds->class_names_.end());
  }
  LAI_CHECK(ds->class_names_.size() <= 65535, csv_path, ": too many classes (", ds->class_names_.size(), ")");
  std::map<std::string, int> index;
  for (size_t i = 0; i < ds->class_names_.size(); ++i) index[ds->class_names_[i]] = int(i);
  constexpr uint16_t kDrop = 0xFFFF;  // "No Finding": no class
  std::vector<uint16_t> remap(seen_names.size());
  for (size_t k = 0; k < seen_names.size(); ++k) {
    if (drop_no_finding && seen_names[k] == opt.no_finding) {
      remap[k] = kDrop;
      continue;
    }
    auto it = index.find(seen_names[k]);
    if (it == index.end()) {
      // Name the first row that uses the unknown label.
      size_t row_no = 0;
      for (size_t i = 0; i < ds->size() && !row_no; ++i)
        for (int l : ds->labels(i))
          if (size_t(l) == k) row_no = row_line[i];
      throw_error(str_cat(csv_path, " line ", row_no, ": unknown label '", seen_names[k], "' (known: ",
                          join(ds->class_names_), ")"));
    }
    remap[k] = uint16_t(it->second);
  }
  // Renumber in place, dropping "No Finding", sorting each row's labels.
  std::vector<uint16_t> labels;
  std::vector<uint32_t> ends;
  labels.reserve(ds->label_blob_.size());
  ends.reserve(ds->size());
  for (size_t i = 0; i < ds->size(); ++i) {
    const size_t b = i ? ds->label_end_[i - 1] : 0, e = ds->label_end_[i];
    const size_t start = labels.size();
    for (size_t k = b; k < e; ++k)
      if (remap[ds->label_blob_[k]] != kDrop) labels.push_back(remap[ds->label_blob_[k]]);
    std::sort(labels.begin() + long(start), labels.end());
    labels.erase(std::unique(labels.begin() + long(start), labels.end()), labels.end());
    const size_t count = labels.size() - start;
    if (!multi) {
      LAI_CHECK(count > 0, csv_path, " line ", row_line[i], ": empty label in column '", header[lcol], "'");
      LAI_CHECK(count == 1, csv_path, " line ", row_line[i], ": ", count, " labels in a single-label manifest (set multi_label)");
    }
    ends.push_back(uint32_t(labels.size()));
  }
  ds->label_blob_ = std::move(labels);
  ds->label_end_ = std::move(ends);
  ds->path_blob_.shrink_to_fit();
  ds->path_end_.shrink_to_fit();
  ds->label_blob_.shrink_to_fit();
  return ds;
}

std::shared_ptr<FileDataset> open_dataset(const std::string& spec, const CsvOptions& csv, const FolderOptions& folder) {
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return FileDataset::from_folder(spec, folder);
  LAI_CHECK_IO(fs::exists(spec, ec), spec, ": no such data set (expected a folder with one sub-folder per class, or a .csv manifest)");
  return FileDataset::from_csv(spec, csv);
}

// ------------------------------------------------------------------ MemoryDataset

MemoryDataset::MemoryDataset(std::vector<Image> images, std::vector<std::vector<int>> labels,
                             std::vector<std::string> class_names, std::string name, bool multi_label)
    : images_(std::move(images)), labels_(std::move(labels)), class_names_(std::move(class_names)),
      name_(std::move(name)), multi_label_(multi_label) {
  LAI_CHECK(images_.size() == labels_.size(), "MemoryDataset: ", images_.size(), " images but ", labels_.size(), " label lists");
}

Sample MemoryDataset::get(size_t i) const {
  LAI_CHECK(i < size(), "MemoryDataset: index ", i, " out of range (size ", size(), ")");
  return Sample{images_[i], labels_[i], path(i)};
}
std::string MemoryDataset::path(size_t i) const { return str_cat(name_, "#", i); }
std::vector<int> MemoryDataset::labels(size_t i) const {
  LAI_CHECK(i < size(), "MemoryDataset: index ", i, " out of range (size ", size(), ")");
  return labels_[i];
}

// ------------------------------------------------------------------ IDX (Fashion-MNIST)

std::vector<uint8_t> inflate_maybe_gzip(std::vector<uint8_t> in, const std::string& name) {
  if (in.size() < 2 || in[0] != 0x1f || in[1] != 0x8b) return in;
  LAI_CHECK_FORMAT(in.size() >= 18, name, ": truncated gzip file");
  // The trailer's ISIZE (size mod 2^32) sizes the first guess, bounded by what deflate can expand
  // to (~1032:1) and by the limit; the loop grows past it, never past the limit.
  const uint64_t cap = uint64_t(limit(Limit::file_bytes));
  const size_t n = in.size();
  const uint64_t isize = uint64_t(in[n - 4]) | uint64_t(in[n - 3]) << 8 | uint64_t(in[n - 2]) << 16 | uint64_t(in[n - 1]) << 24;
  std::vector<uint8_t> out(size_t(std::min<uint64_t>({std::max<uint64_t>(isize, 1024), uint64_t(n) * 1032 + 1024, cap})));
  z_stream zs{};
  LAI_CHECK_KIND(ErrorKind::internal, inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, name, ": zlib init failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};
  zs.next_in = in.data();
  zs.avail_in = uInt(std::min<size_t>(in.size(), size_t(1) << 30));
  size_t produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (produced == out.size()) {
      if (out.size() >= cap) check_limit(Limit::file_bytes, cap + 1, name + ": the inflated data");
      out.resize(size_t(std::min<uint64_t>(uint64_t(out.size()) * 2, cap)));
    }
    if (zs.avail_in == 0 && size_t(zs.next_in - in.data()) < in.size())
      zs.avail_in = uInt(std::min<size_t>(in.size() - size_t(zs.next_in - in.data()), size_t(1) << 30));
    zs.next_out = out.data() + produced;
    zs.avail_out = uInt(std::min<size_t>(out.size() - produced, size_t(1) << 30));
    const uInt before = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    produced += before - zs.avail_out;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
  }
  const std::string msg = zs.msg ? zs.msg : "";
  LAI_CHECK_FORMAT(rc == Z_STREAM_END, name, rc == Z_BUF_ERROR ? ": truncated gzip data" : ": corrupt gzip data",
                   msg.empty() ? "" : " (" + msg + ")");
  out.resize(produced);
  return out;
}

std::vector<uint8_t> read_maybe_gzip(const std::string& path) { return inflate_maybe_gzip(io::read_file(path), path); }

namespace {
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
}  // namespace

IdxImages parse_idx_images(const std::vector<uint8_t>& b, const std::string& name) {
  LAI_CHECK_FORMAT(b.size() >= 16 && be32(b.data()) == 0x00000803, name, ": not an IDX3 ubyte image file");
  const uint32_t count = be32(b.data() + 4), rows = be32(b.data() + 8), cols = be32(b.data() + 12);
  LAI_CHECK_FORMAT(rows > 0 && cols > 0 && count <= uint32_t(INT32_MAX), name, ": IDX header says ", count, " images of ",
                   rows, "x", cols);
  check_image_size(cols, rows, name);
  const uint64_t per = uint64_t(rows) * cols;  // dividing first: count x per is never formed when it would overflow
  LAI_CHECK_FORMAT(count <= (b.size() - 16) / per && b.size() - 16 == count * per, name, ": IDX size mismatch (",
                   b.size() - 16, " bytes for ", count, "x", rows, "x", cols, ")");
  IdxImages r;
  r.count = int(count);
  r.rows = int(rows);
  r.cols = int(cols);
  r.pixels.assign(b.begin() + 16, b.end());
  return r;
}

std::vector<uint8_t> parse_idx_labels(const std::vector<uint8_t>& b, const std::string& name) {
  LAI_CHECK_FORMAT(b.size() >= 8 && be32(b.data()) == 0x00000801, name, ": not an IDX1 ubyte label file");
  const size_t n = be32(b.data() + 4);
  LAI_CHECK_FORMAT(b.size() - 8 == n, name, ": IDX size mismatch (", b.size() - 8, " labels, header says ", n, ")");
  return std::vector<uint8_t>(b.begin() + 8, b.end());
}

IdxImages read_idx_images(const std::string& path) { return parse_idx_images(read_maybe_gzip(path), path); }
std::vector<uint8_t> read_idx_labels(const std::string& path) { return parse_idx_labels(read_maybe_gzip(path), path); }

namespace {
class IdxDataset : public Dataset {
 public:
  IdxDataset(IdxImages images, std::vector<uint8_t> labels, std::vector<std::string> names, std::string name)
      : img_(std::move(images)), lab_(std::move(labels)), names_(std::move(names)), name_(std::move(name)) {}
  size_t size() const override { return size_t(img_.count); }
  Sample get(size_t i) const override {
    LAI_CHECK(i < size(), name_, ": index ", i, " out of range (size ", size(), ")");
    Sample s;
    s.image = Image(img_.cols, img_.rows);
    const uint8_t* p = img_.pixels.data() + i * size_t(img_.rows) * img_.cols;
    for (size_t k = 0; k < s.image.pixels.size(); ++k) s.image.pixels[k] = p[k];
    s.labels = {lab_[i]};
    s.path = path(i);
    return s;
  }
  std::string path(size_t i) const override { return str_cat(name_, "#", i); }
  std::vector<int> labels(size_t i) const override { return {lab_.at(i)}; }
  const std::vector<std::string>& class_names() const override { return names_; }

 private:
  IdxImages img_;
  std::vector<uint8_t> lab_;
  std::vector<std::string> names_;
  std::string name_;
};

std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const char* ext : {".gz", ""}) {
    std::string p = (fs::path(dir) / (stem + ext)).string();
    std::error_code ec;
    if (fs::exists(p, ec)) return p;
  }
  throw_error(str_cat(dir, ": no ", stem, "[.gz] (install Debian's dataset-fashion-mnist)"));
}
}  // namespace

DatasetPtr load_fashion_mnist(const std::string& dir, bool train, size_t limit) {
  const std::string prefix = train ? "train" : "t10k";
  IdxImages img = read_idx_images(find_idx(dir, prefix + "-images-idx3-ubyte"));
  std::vector<uint8_t> lab = read_idx_labels(find_idx(dir, prefix + "-labels-idx1-ubyte"));
  LAI_CHECK(size_t(img.count) == lab.size(), dir, ": ", img.count, " images but ", lab.size(), " labels");
  for (uint8_t l : lab) LAI_CHECK(l < 10, dir, ": label ", int(l), " out of range 0..9");
  if (limit > 0 && limit < lab.size()) {
    img.count = int(limit);
    img.pixels.resize(limit * size_t(img.rows) * img.cols);
    img.pixels.shrink_to_fit();
    lab.resize(limit);
  }
  std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return std::make_shared<IdxDataset>(std::move(img), std::move(lab), std::move(names), "fashion-mnist/" + prefix);
}

// ------------------------------------------------------------------ subsets and splits

namespace {
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(DatasetPtr base, std::vector<size_t> idx) : base_(std::move(base)), idx_(std::move(idx)) {
    for (size_t i : idx_) LAI_CHECK(i < base_->size(), "subset: index ", i, " out of range (size ", base_->size(), ")");
  }
  size_t size() const override { return idx_.size(); }
  Sample get(size_t i) const override { return base_->get(at(i)); }
  std::string path(size_t i) const override { return base_->path(at(i)); }
  std::vector<int> labels(size_t i) const override { return base_->labels(at(i)); }
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  bool multi_label() const override { return base_->multi_label(); }

 private:
  size_t at(size_t i) const {
    LAI_CHECK(i < idx_.size(), "subset: index ", i, " out of range (size ", idx_.size(), ")");
    return idx_[i];
  }
  DatasetPtr base_;
  std::vector<size_t> idx_;
};
}  // namespace

DatasetPtr subset(DatasetPtr base, std::vector<size_t> indices) {
  LAI_CHECK(base != nullptr, "subset: null data set");
  return std::make_shared<SubsetDataset>(std::move(base), std::move(indices));
}

Split split_random(DatasetPtr ds, double validation_fraction, uint64_t seed) {
  LAI_CHECK(ds != nullptr, "split_random: null data set");
  LAI_CHECK(validation_fraction >= 0 && validation_fraction < 1, "split_random: validation fraction must be in [0, 1), got ",
            validation_fraction);
  std::vector<size_t> order(ds->size());
  std::iota(order.begin(), order.end(), size_t(0));
  Generator g(seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[g.below(i)]);
  const size_t nval = size_t(std::llround(validation_fraction * double(order.size())));
  // A split asked for must leave both parts non-empty: training on nothing would "succeed" and
  // save an untrained model.
  if (validation_fraction > 0) {
    LAI_CHECK(nval < order.size(), "split_random: a validation fraction of ", validation_fraction, " of ", order.size(),
              " samples leaves no training samples");
    LAI_CHECK(nval > 0, "split_random: a validation fraction of ", validation_fraction, " of ", order.size(),
              " samples leaves no validation samples");
  }
  std::vector<size_t> val(order.begin(), order.begin() + nval), train(order.begin() + nval, order.end());
  std::sort(val.begin(), val.end());  // keep the source order inside each part
  std::sort(train.begin(), train.end());
  return Split{subset(ds, std::move(train)), subset(ds, std::move(val))};
}

Split split_by_list(DatasetPtr ds, const std::vector<std::string>& validation_names) {
  LAI_CHECK(ds != nullptr, "split_by_list: null data set");
  std::unordered_set<std::string> names(validation_names.begin(), validation_names.end());
  std::vector<size_t> train, val;
  for (size_t i = 0; i < ds->size(); ++i) {
    const std::string p = ds->path(i);
    const bool in = names.count(p) || names.count(fs::path(p).filename().string());
    (in ? val : train).push_back(i);
  }
  return Split{subset(ds, std::move(train)), subset(ds, std::move(val))};
}

std::vector<std::string> read_name_list(const std::string& path) {
  std::istringstream in(io::read_text_file(path));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

}  // namespace liteai::data
