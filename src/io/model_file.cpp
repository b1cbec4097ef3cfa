#include "liteai/io/model_file.hpp"

#include <sys/mman.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <unordered_set>

#include "liteai/core/parallel.hpp"

namespace liteai::io {

// The data are written and read as the host's bytes: the format is little-endian, and so are
// all the machines liteai targets. A big-endian port would byte-swap here.
static_assert(std::endian::native == std::endian::little, "liteai files assume a little-endian host");

namespace {

constexpr size_t kPrefixBytes = 32;
constexpr size_t kMaxDims = 8;
constexpr uint64_t kMaxElements = uint64_t(1) << 60;  // also bounds strides (product of dims)

void store_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void store_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t load_u64(const uint8_t* p) { return uint64_t(load_u32(p)) | uint64_t(load_u32(p + 4)) << 32; }

uint64_t align_up(uint64_t v) { return (v + kModelDataAlignment - 1) / kModelDataAlignment * kModelDataAlignment; }

// ---- writing ----

struct PlannedTensor {
  const std::string* name;
  Tensor data;  // contiguous
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

struct Plan {
  std::string json;
  uint64_t data_start = 0;
  uint64_t file_bytes = 0;
  std::vector<PlannedTensor> tensors;
};


Plan make_plan(const ContainerFormat& fmt, const Json& header, const NamedTensors& tensors) {
  Plan plan;
  std::unordered_set<std::string_view> names;
  plan.tensors.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    LAI_CHECK(!name.empty(), "save ", fmt.kind, ": a tensor has an empty name");
    LAI_CHECK(names.insert(name).second, "save ", fmt.kind, ": duplicate tensor name '", name, "'");
    LAI_CHECK(t.defined(), "save ", fmt.kind, ": tensor '", name, "' is undefined");
    LAI_CHECK(t.dim() <= int64_t(kMaxDims), "save ", fmt.kind, ": tensor '", name, "' has ", t.dim(),
              " dimensions (at most ", kMaxDims, ")");
    PlannedTensor p;
    p.name = &name;
    p.data = t.detach().contiguous();
    p.bytes = uint64_t(p.data.numel()) * dtype_size(p.data.dtype());
    p.crc = p.bytes ? crc32_of(p.data.raw_data(), p.bytes) : 0;
    plan.tensors.push_back(std::move(p));
  }
  // The offsets are written inside the JSON, whose length decides where the data start: iterate
  // until the data start no longer moves (two or three rounds at most, lengths only grow).
  uint64_t data_start = align_up(kPrefixBytes);
  for (;;) {
    Json table = Json::array();
    uint64_t at = data_start;
    for (auto& p : plan.tensors) {
      p.offset = at;
      Json e = Json::object();
      e.set("name", *p.name);
      e.set("dtype", dtype_name(p.data.dtype()));
      e.set("shape", Json::array_of(p.data.shape()));
      e.set("offset", p.offset);
      e.set("bytes", p.bytes);
      e.set("crc32", p.crc);
      table.push_back(std::move(e));
      at = align_up(at + p.bytes);
    }
    Json doc = Json::object();
    doc.set("header", header);
    doc.set("tensors", std::move(table));
    plan.json = doc.dump(1);
    const uint64_t need = align_up(kPrefixBytes + plan.json.size());
    if (need <= data_start) {
      plan.data_start = data_start;
      plan.file_bytes = plan.tensors.empty() ? kPrefixBytes + plan.json.size()
                                             : plan.tensors.back().offset + plan.tensors.back().bytes;
      break;
    }
    data_start = need;
  }
  return plan;
}

void write_plan(const ContainerFormat& fmt, const Plan& plan, const ByteSink& sink) {
  static const uint8_t zeros[kModelDataAlignment] = {};
  uint8_t prefix[kPrefixBytes] = {};
  std::memcpy(prefix, fmt.magic, 8);
  store_u32(prefix + 8, fmt.version);
  store_u32(prefix + 12, crc32_of(plan.json.data(), plan.json.size()));
  store_u64(prefix + 16, plan.json.size());
  store_u64(prefix + 24, plan.file_bytes);
  sink(prefix, kPrefixBytes);
  sink(plan.json.data(), plan.json.size());
  uint64_t at = kPrefixBytes + plan.json.size();
  for (const auto& p : plan.tensors) {
    if (at < p.offset) sink(zeros, size_t(p.offset - at));
    if (p.bytes) sink(p.data.raw_data(), size_t(p.bytes));
    at = p.offset + p.bytes;
  }
}

// ---- reading: a random-access source that knows its length ----

class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at `offset`; callers have checked the range against size().
  virtual void read(uint64_t offset, void* dst, size_t n) = 0;
};

class MemorySource final : public Source {
 public:
  MemorySource(const void* p, size_t n) : p_(static_cast<const uint8_t*>(p)), n_(n) {}
  uint64_t size() const override { return n_; }
  void read(uint64_t offset, void* dst, size_t n) override {
    if (n) std::memcpy(dst, p_ + offset, n);
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path) : file_(path) {}
  uint64_t size() const override { return file_.size(); }
  void read(uint64_t offset, void* dst, size_t n) override { file_.read(offset, dst, n); }
  int fd() const { return file_.fd(); }

 private:
  ReadFile file_;
};

struct TableEntry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

struct Table {
  Json doc;
  uint32_t version = 0;
  uint64_t header_end = 0;
  std::vector<TableEntry> entries;
};

DType parse_dtype(const std::string& name, const std::string& what) {
  for (DType t : {DType::f32, DType::bf16, DType::u8, DType::u16, DType::u32})
    if (name == dtype_name(t)) return t;
  throw_error(str_cat(what, ": unknown dtype '", name, "' (expected f32, bf16, u8, u16 or u32)"));
}

// Reads and validates everything but the tensor data.
Table read_table(const ContainerFormat& fmt, Source& src, const std::string& name) {
  const uint64_t len = src.size();
  uint8_t prefix[kPrefixBytes] = {};
  const size_t have = static_cast<size_t>(std::min<uint64_t>(len, kPrefixBytes));
  src.read(0, prefix, have);
  LAI_CHECK_FORMAT(std::memcmp(prefix, fmt.magic, std::min<size_t>(have, 8)) == 0, name, ": not a ", fmt.kind,
            " file (bad magic)");
  LAI_CHECK_FORMAT(len >= kPrefixBytes, name, ": truncated (", len, " bytes, shorter than the ", kPrefixBytes,
            "-byte prefix)");
  Table t;
  t.version = load_u32(prefix + 8);
  LAI_CHECK_FORMAT(t.version != 0, name, ": invalid format version 0");
  LAI_CHECK_FORMAT(t.version <= fmt.version, name, ": format version ", t.version,
            " is newer than this build of liteai reads (up to ", fmt.version, "); upgrade liteai");
  const uint32_t header_crc = load_u32(prefix + 12);
  const uint64_t header_bytes = load_u64(prefix + 16);
  const uint64_t file_bytes = load_u64(prefix + 24);
  LAI_CHECK_FORMAT(len >= file_bytes, name, ": truncated (", len, " bytes, the file says ", file_bytes, ")");
  LAI_CHECK(len == file_bytes, name, ": ", len - file_bytes, " unexpected bytes after the end (",
            "the file says ", file_bytes, " bytes, found ", len, ")");
  LAI_CHECK_FORMAT(header_bytes <= len - kPrefixBytes, name, ": header size ", header_bytes, " does not fit in the ",
                   len, "-byte file");
  check_limit(Limit::header_bytes, header_bytes, name + ": the header");
  t.header_end = kPrefixBytes + header_bytes;

  std::string text(static_cast<size_t>(header_bytes), '\0');
  src.read(kPrefixBytes, text.data(), text.size());
  const uint32_t crc = crc32_of(text.data(), text.size());
  LAI_CHECK_FORMAT(crc == header_crc, name, ": checksum mismatch in the header (stored ", header_crc, ", computed ",
            crc, "): the file is corrupted");

  const std::string what = name + " header";
  t.doc = Json::parse(text, what);
  LAI_CHECK(t.doc.is_object(), what, ": must be an object (found ", t.doc.type_name(), ")");
  t.doc.at("header", what);
  const Json::Array& table = t.doc.get_array("tensors", what);

  std::unordered_set<std::string> names;
  uint64_t total = 0;
  t.entries.reserve(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const Json& e = table[i];
    std::string ewhat = str_cat(what, ": tensor table entry ", i);
    LAI_CHECK(e.is_object(), ewhat, " must be an object (found ", e.type_name(), ")");
    TableEntry te;
    te.name = e.get_string("name", ewhat);
    ewhat = str_cat(what, ": tensor '", te.name, "'");
    LAI_CHECK(!te.name.empty(), what, ": tensor table entry ", i, " has an empty name");
    LAI_CHECK(names.insert(te.name).second, name, ": duplicate tensor name '", te.name, "'");
    const std::string& dt = e.get_string("dtype", ewhat);
    te.dtype = parse_dtype(dt, ewhat);
    const std::vector<int64_t> shape = e.get_int_array("shape", ewhat);
    LAI_CHECK(shape.size() <= kMaxDims, ewhat, ": ", shape.size(), " dimensions (at most ", kMaxDims, ")");
    // Overflow-safe element count; the product of the non-zero dims is bounded as well, because
    // strides are computed from it even when another dimension is 0.
    uint64_t elements = 0, span = 1;
    bool empty = false;
    for (int64_t d : shape) {
      LAI_CHECK(d >= 0, ewhat, ": negative dimension ", d, " in shape");
      const uint64_t ud = static_cast<uint64_t>(d);
      if (ud == 0) {
        empty = true;
        continue;
      }
      LAI_CHECK(ud <= kMaxElements / span, ewhat, ": shape ", to_string(shape), " is absurdly large");
      span *= ud;
    }
    elements = empty ? 0 : span;
    te.shape = shape;
    const int64_t bytes = e.get_int("bytes", ewhat);
    const int64_t offset = e.get_int("offset", ewhat);
    const int64_t crc_v = e.get_int("crc32", ewhat);
    LAI_CHECK(crc_v >= 0 && crc_v <= int64_t(UINT32_MAX), ewhat, ": crc32 ", crc_v, " is not a 32-bit value");
    te.crc = static_cast<uint32_t>(crc_v);
    const uint64_t expect = elements * dtype_size(te.dtype);  // elements <= 2^60: no overflow
    LAI_CHECK(bytes >= 0 && uint64_t(bytes) == expect, ewhat, ": size ", bytes, " bytes does not match shape ",
              to_string(shape), " ", dt, " (", expect, " bytes)");
    te.bytes = expect;
    check_limit(Limit::tensor_bytes, te.bytes, str_cat(name, ": tensor '", te.name, "' ", to_string(shape)));
    LAI_CHECK(offset >= 0, ewhat, ": negative offset ", offset);
    te.offset = static_cast<uint64_t>(offset);
    LAI_CHECK(te.offset % kModelDataAlignment == 0, ewhat, ": offset ", te.offset, " is not ",
              kModelDataAlignment, "-byte aligned");
    LAI_CHECK_FORMAT(te.offset >= t.header_end, ewhat, ": offset ", te.offset, " overlaps the header (ends at ",
              t.header_end, ")");
    LAI_CHECK_FORMAT(te.bytes <= len && te.offset <= len - te.bytes, name, ": truncated: tensor '", te.name,
              "' needs ", te.bytes, " bytes at offset ", te.offset, " but the file has ", len);
    total += te.bytes;  // each fits in the file: no overflow
    check_limit(Limit::total_bytes, total, str_cat(name, ": the tensors up to '", te.name, "'"));
    t.entries.push_back(std::move(te));
  }
  // Data regions must not overlap each other.
  std::vector<const TableEntry*> order;
  order.reserve(t.entries.size());
  for (const auto& e : t.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const TableEntry* a, const TableEntry* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i)
    LAI_CHECK(order[i]->offset >= order[i - 1]->offset + order[i - 1]->bytes, name, ": tensors '",
              order[i - 1]->name, "' and '", order[i]->name, "' overlap in the file");
  return t;
}

// Every byte outside the header and the tensors is padding and must be zero: then no flipped
// byte anywhere in the file goes unnoticed.
void check_padding(Source& src, const Table& t, const std::string& name) {
  std::vector<std::pair<uint64_t, uint64_t>> regions;  // [begin, end) of data
  for (const auto& e : t.entries)
    if (e.bytes) regions.emplace_back(e.offset, e.offset + e.bytes);
  std::sort(regions.begin(), regions.end());
  uint64_t at = t.header_end;
  uint8_t buf[256];
  auto check_gap = [&](uint64_t from, uint64_t to) {
    while (from < to) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(to - from, sizeof(buf)));
      src.read(from, buf, n);
      for (size_t i = 0; i < n; ++i)
        LAI_CHECK_FORMAT(buf[i] == 0, name, ": unexpected non-zero byte at offset ", from + i,
                  " in the padding: the file is corrupted");
      from += n;
    }
  };
  for (const auto& [b, e] : regions) {
    check_gap(at, b);
    at = std::max(at, e);
  }
  check_gap(at, src.size());
}

ModelFile load_from(const ContainerFormat& fmt, Source& src, const std::string& name, const LoadOptions& options) {
  Table t = read_table(fmt, src, name);
  check_padding(src, t, name);
  ModelFile mf;
  mf.source = name;
  mf.format_version = t.version;
  mf.tensors.reserve(t.entries.size());
  for (const auto& e : t.entries) {
    const bool to_bf16 = e.dtype == DType::f32 && options.as_bf16 && options.as_bf16(e.name);
    Tensor tensor;
    try {
      tensor = Tensor::empty(e.shape, to_bf16 ? DType::bf16 : e.dtype);
    } catch (const std::bad_alloc&) {
      throw_error(ErrorKind::out_of_memory, str_cat(name, ": cannot allocate ", e.bytes, " bytes for tensor '", e.name, "'"));
    }
    uint32_t crc = 0;
    if (to_bf16) {  // through a 1 MB buffer
      std::vector<float> chunk(size_t(1) << 18);
      uint16_t* out = tensor.data_bf16();
      const uint64_t n = e.bytes / 4;
      for (uint64_t i = 0; i < n; i += chunk.size()) {
        const size_t m = static_cast<size_t>(std::min<uint64_t>(chunk.size(), n - i));
        src.read(e.offset + 4 * i, chunk.data(), 4 * m);
        crc = crc32_of(chunk.data(), 4 * m, crc);
        for (size_t k = 0; k < m; ++k) out[i + k] = f32_to_bf16(chunk[k]);
      }
    } else {
      void* dst = tensor.raw_data();
      src.read(e.offset, dst, static_cast<size_t>(e.bytes));
      crc = crc32_of(dst, static_cast<size_t>(e.bytes));
    }
    LAI_CHECK_FORMAT(crc == e.crc, name, ": checksum mismatch in tensor '", e.name, "' (stored ", e.crc,
              ", computed ", crc, "): the file is corrupted");
    mf.tensors.emplace_back(e.name, std::move(tensor));
  }
  mf.header = std::move(*t.doc.find("header"));
  return mf;
}

// A whole file mapped read-only (MAP_PRIVATE): the pages are the page cache's, shared by every
// process that maps the file; unmapped when the last tensor viewing it is gone.
struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (base) munmap(base, size);
  }
};

ModelFile map_from(const ContainerFormat& fmt, const std::string& path) {
  FileSource src(path);
  Table t = read_table(fmt, src, path);
  check_padding(src, t, path);
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(src.size());
  void* p = map->size ? mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, src.fd(), 0) : nullptr;
  LAI_CHECK_IO(p != MAP_FAILED, path, ": cannot map the file (", std::strerror(errno), ")");
  map->base = p;
  ModelFile mf;
  mf.source = path;
  mf.format_version = t.version;
  mf.tensors.reserve(t.entries.size());
  for (const auto& e : t.entries) {
    char* data = static_cast<char*>(map->base) + e.offset;
    auto storage = Storage::wrap(data, size_t(e.bytes), [map] {}, /*read_only=*/true);
    // The checksum reads every page once; each piece is given back right after, so checking a
    // 537 MB tensor does not make it resident.
    constexpr size_t kPiece = size_t(32) << 20;
    uint32_t crc = 0;
    for (size_t at = 0; at < e.bytes; at += kPiece) {
      const size_t n = std::min(kPiece, size_t(e.bytes) - at);
      crc = crc32_of(data + at, n, crc);
      storage->release_pages(at, n);
    }
    LAI_CHECK_FORMAT(crc == e.crc, path, ": checksum mismatch in tensor '", e.name, "' (stored ", e.crc,
                     ", computed ", crc, "): the file is corrupted");
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::move(storage);
    impl->shape = e.shape;
    impl->strides = contiguous_strides(e.shape);
    impl->dtype = e.dtype;
    mf.tensors.emplace_back(e.name, Tensor(std::move(impl)));
  }
  mf.header = std::move(*t.doc.find("header"));
  return mf;
}

}  // namespace

namespace {
uint32_t crc32_serial(const uint8_t* p, size_t size, uLong c) {
  while (size > 0) {
    const size_t step = std::min<size_t>(size, size_t(1) << 30);
    c = ::crc32(c, p, static_cast<uInt>(step));
    p += step;
    size -= step;
  }
  return static_cast<uint32_t>(c);
}
}  // namespace

uint32_t crc32_of(const void* data, size_t size, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  // Large tensors (a checkpoint is GBs): CRC the pieces in parallel and combine them, which gives
  // exactly the serial result.
  constexpr size_t kPiece = size_t(8) << 20;
  if (size < 4 * kPiece || num_threads() < 2) return crc32_serial(p, size, crc);
  const int64_t pieces = static_cast<int64_t>((size + kPiece - 1) / kPiece);
  std::vector<uint32_t> part(static_cast<size_t>(pieces));
  parallel_for(0, pieces, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const size_t at = size_t(i) * kPiece;
      part[size_t(i)] = crc32_serial(p + at, std::min(kPiece, size - at), 0);
    }
  });
  uLong c = crc;
  for (int64_t i = 0; i < pieces; ++i) {
    const size_t at = size_t(i) * kPiece;
    c = ::crc32_combine(c, part[size_t(i)], static_cast<z_off_t>(std::min(kPiece, size - at)));
  }
  return static_cast<uint32_t>(c);
}

const Tensor* ModelFile::find(std::string_view name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& ModelFile::tensor(std::string_view name) const {
  const Tensor* t = find(name);
  LAI_CHECK(t != nullptr, source, ": no tensor '", name, "'");
  return *t;
}

// ---- containers ----

void save_container(const ContainerFormat& fmt, const std::string& path, const Json& header,
                    const NamedTensors& tensors) {
  const Plan plan = make_plan(fmt, header, tensors);  // validates before any file is touched
  atomic_write_file(path, [&](const ByteSink& sink) { write_plan(fmt, plan, sink); });
}

ModelFile load_container(const ContainerFormat& fmt, const std::string& path, const LoadOptions& options) {
  FileSource src(path);
  return load_from(fmt, src, path, options);
}

std::vector<uint8_t> container_to_bytes(const ContainerFormat& fmt, const Json& header, const NamedTensors& tensors) {
  const Plan plan = make_plan(fmt, header, tensors);
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(plan.file_bytes));
  write_plan(fmt, plan, [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

ModelFile container_from_bytes(const ContainerFormat& fmt, const void* data, size_t size, std::string_view name) {
  LAI_CHECK(data != nullptr || size == 0, name, ": null buffer");
  MemorySource src(data, size);
  return load_from(fmt, src, std::string(name), {});
}

void save_model_file(const std::string& path, const Json& header, const NamedTensors& tensors) {
  save_container(kModelFormat, path, header, tensors);
}
ModelFile load_model_file(const std::string& path, const LoadOptions& options) {
  return load_container(kModelFormat, path, options);
}
ModelFile map_model_file(const std::string& path) { return map_container(kModelFormat, path); }
ModelFile map_container(const ContainerFormat& fmt, const std::string& path) { return map_from(fmt, path); }
std::vector<uint8_t> model_file_to_bytes(const Json& header, const NamedTensors& tensors) {
  return container_to_bytes(kModelFormat, header, tensors);
}
ModelFile model_file_from_bytes(const void* data, size_t size, std::string_view name) {
  return container_from_bytes(kModelFormat, data, size, name);
}

Json read_model_file_table(const std::string& path) {
  FileSource src(path);
  Table t = read_table(kModelFormat, src, path);
  return std::move(t.doc);
}

}  // namespace liteai::io
