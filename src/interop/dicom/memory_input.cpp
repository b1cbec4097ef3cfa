#include "memory_input.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "dcmtk/dcmdata/dcerror.h"
#include "dcmtk/dcmdata/dctag.h"
#include "liteai/core/error.hpp"

namespace liteai::interop::dicom {
namespace {

class MemoryFactory : public DcmInputStreamFactory {
 public:
  MemoryFactory(Bytes bytes, size_t pos) : bytes_(std::move(bytes)), pos_(pos) {}
  DcmInputStream* create() const override { return new MemoryInput(bytes_, pos_); }
  DcmInputStreamFactory* clone() const override { return new MemoryFactory(*this); }
  DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

 private:
  Bytes bytes_;
  size_t pos_;
};

constexpr uint32_t kUndefined = 0xFFFFFFFFu;

struct Encoding {
  bool explicit_vr = true;
  bool big_endian = false;
};

uint16_t get16(const uint8_t* p, bool be) { return be ? uint16_t(p[0] << 8 | p[1]) : uint16_t(p[1] << 8 | p[0]); }
uint32_t get32(const uint8_t* p, bool be) {
  return be ? uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]
            : uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}

// Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
bool long_form(const uint8_t* vr) {
  static const char* const kLong[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
  for (const char* v : kLong)
    if (vr[0] == v[0] && vr[1] == v[1]) return true;
  return false;
}

size_t count_item_tags(const uint8_t* p, size_t n, size_t from) {
  size_t count = 0;
  for (size_t i = from; i + 4 <= n; ++i)
    if ((p[i] == 0xFE && p[i + 1] == 0xFF && p[i + 2] == 0x00 && p[i + 3] == 0xE0) ||
        (p[i] == 0xFF && p[i + 1] == 0xFE && p[i + 2] == 0xE0 && p[i + 3] == 0x00))
      ++count;
  return count;
}

void fail_deep(size_t depth, size_t at) {
  LAI_FAIL(format, "corrupt data (sequences nested ", depth, " deep at byte ", at, "; at most ", kMaxNesting, " are read)");
}

// Walks the elements from `pos` without recursion, tracking open sequences and items (an end
// offset each, or none for undefined lengths closed by delimiters).
void check_nesting_from(const uint8_t* p, size_t n, size_t pos, Encoding top) {
  struct Open {
    size_t end;      // SIZE_MAX: undefined length, closed by a delimitation item
    bool sequence;   // a sequence (counts towards the depth); else an item or encapsulated pixels
    bool fragments;  // encapsulated Pixel Data: its items are raw bytes
    Encoding inner;
  };
  std::vector<Open> open;
  size_t depth = 0;
  auto pop = [&] {
    if (open.back().sequence) --depth;
    open.pop_back();
  };
  auto push = [&](Open o, size_t at) {
    open.push_back(o);
    if (o.sequence && ++depth > size_t(kMaxNesting)) fail_deep(depth, at);
  };
  auto malformed = [&](size_t at) {  // the rest is unreadable to us: assume the worst it can hold
    const size_t worst = depth + count_item_tags(p, n, at);
    if (worst > size_t(kMaxNesting)) fail_deep(worst, at);
  };
  for (;;) {
    while (!open.empty() && open.back().end <= pos) pop();
    if (pos + 8 > n) return;
    const Encoding e = open.empty() ? top : open.back().inner;
    const uint16_t group = get16(p + pos, e.big_endian), element = get16(p + pos + 2, e.big_endian);
    if (group == 0xFFFE) {
      const uint32_t len = get32(p + pos + 4, e.big_endian);
      const size_t at = pos;
      pos += 8;
      if (element == 0xE000) {
        if (!open.empty() && open.back().fragments) {
          if (len == kUndefined) return malformed(at);
          pos += std::min<size_t>(len, n - pos);
        } else {
          push({len == kUndefined ? SIZE_MAX : pos + len, false, false, e}, at);
        }
      } else if (element == 0xE00D || element == 0xE0DD) {
        if (!open.empty() && open.back().end == SIZE_MAX) pop();
      } else {
        return malformed(at);
      }
      continue;
    }
    size_t header = 8;
    uint32_t len = 0;
    bool sequence = false;
    Encoding inner = e;
    if (e.explicit_vr) {
      const uint8_t* vr = p + pos + 4;
      if (vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z') return malformed(pos);
      if (long_form(vr)) {
        if (pos + 12 > n) return;
        len = get32(p + pos + 8, e.big_endian);
        header = 12;
      } else {
        len = get16(p + pos + 6, e.big_endian);
      }
      const bool un = vr[0] == 'U' && vr[1] == 'N';
      sequence = (vr[0] == 'S' && vr[1] == 'Q') || (un && len == kUndefined);
      if (un) inner = {false, false};  // an undefined-length UN holds implicit little endian items
    } else {
      len = get32(p + pos + 4, e.big_endian);
      sequence = len == kUndefined || DcmTag(group, element).getEVR() == EVR_SQ;
    }
    const bool fragments = group == 0x7FE0 && element == 0x0010 && len == kUndefined;
    const size_t at = pos;
    pos += header;
    if (sequence || fragments) {
      push({len == kUndefined ? SIZE_MAX : pos + len, sequence && !fragments, fragments, inner}, at);
    } else {
      if (len == kUndefined) return malformed(at);
      pos += std::min<size_t>(len, n - pos);
    }
  }
}

bool uid_is(const uint8_t* v, size_t len, const char* uid) {
  while (len > 0 && (v[len - 1] == 0 || v[len - 1] == ' ')) --len;
  return len == std::strlen(uid) && std::memcmp(v, uid, len) == 0;
}

}  // namespace

offile_off_t MemoryProducer::read(void* buf, offile_off_t len) {
  if (!good() || len <= 0 || buf == nullptr) return 0;
  const size_t k = std::min(size_t(len), bytes_.size - pos_);
  std::memcpy(buf, bytes_.data + pos_, k);
  pos_ += k;
  return offile_off_t(k);
}

offile_off_t MemoryProducer::skip(offile_off_t len) {
  if (!good() || len <= 0) return 0;
  const size_t k = std::min(size_t(len), bytes_.size - pos_);
  pos_ += k;
  return offile_off_t(k);
}

void MemoryProducer::putback(offile_off_t num) {
  if (!good() || num <= 0) return;
  if (size_t(num) <= pos_)
    pos_ -= size_t(num);
  else
    status_ = EC_PutbackFailed;
}

DcmInputStreamFactory* MemoryInput::newFactory() const {
  return new MemoryFactory(producer_.bytes(), producer_.pos());
}

OFCondition MemoryInput::installCompressionFilter(E_StreamCompression filter) {
  if (filter != ESC_zlib) return DcmInputStream::installCompressionFilter(filter);
  const Bytes& in = producer_.bytes();
  auto out = std::make_shared<std::vector<uint8_t>>();
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return EC_MemoryExhausted;
  zs.next_in = const_cast<uint8_t*>(in.data + producer_.pos());
  zs.avail_in = uInt(std::min<size_t>(in.size - producer_.pos(), 0xFFFFFFFFu));
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (out->size() >= kMaxInflated) {
      failure_ = str_cat("unsupported (the deflated data set inflates to more than ", kMaxInflated >> 20, " MB)");
      break;
    }
    const size_t have = out->size();
    out->resize(std::min(kMaxInflated, std::max<size_t>(have * 2, 1 << 16)));
    zs.next_out = out->data() + have;
    zs.avail_out = uInt(out->size() - have);
    rc = inflate(&zs, Z_NO_FLUSH);  // Z_BUF_ERROR: the input ended before the stream did
    out->resize(out->size() - zs.avail_out);
  }
  const std::string why = zs.msg ? zs.msg : "stream ends early";
  inflateEnd(&zs);
  if (failure_.empty() && rc != Z_STREAM_END)
    failure_ = str_cat(rc == Z_BUF_ERROR ? "truncated file" : "corrupt data", " (deflated data set: ", why, ")");
  if (failure_.empty()) {
    try {
      check_nesting_from(out->data(), out->size(), 0, Encoding{});
    } catch (const Error& e) {
      failure_ = e.what();
    }
  }
  if (!failure_.empty()) {
    producer_.fail(EC_InvalidStream);
    return EC_InvalidStream;
  }
  Bytes inflated{out->data(), out->size(), out};
  producer_.replace(std::move(inflated));
  return EC_Normal;
}

void check_nesting(const uint8_t* p, size_t n) {
  size_t pos = 0;
  Encoding data_set;
  if (n >= 132 && std::memcmp(p + 128, "DICM", 4) == 0) {
    // The meta header: explicit VR little endian group 0002, naming the data set's encoding.
    pos = 132;
    while (pos + 8 <= n && get16(p + pos, false) == 0x0002) {
      const uint16_t element = get16(p + pos + 2, false);
      size_t header = 8, len = get16(p + pos + 6, false);
      if (long_form(p + pos + 4)) {
        if (pos + 12 > n) return;
        header = 12;
        len = get32(p + pos + 8, false);
      }
      if (len > n - pos - header) return;  // truncated: DCMTK reports it
      const uint8_t* value = p + pos + header;
      if (element == 0x0010) {
        if (uid_is(value, len, "1.2.840.10008.1.2")) data_set = {false, false};
        if (uid_is(value, len, "1.2.840.10008.1.2.2")) data_set = {true, true};
        if (uid_is(value, len, "1.2.840.10008.1.2.1.99")) return;  // checked once inflated
      }
      pos += header + len;
    }
  } else if (n >= 8) {
    // A bare data set: explicit when a VR follows the first tag, big endian when its group reads
    // small that way (DCMTK guesses the same way).
    data_set.explicit_vr = p[4] >= 'A' && p[4] <= 'Z' && p[5] >= 'A' && p[5] <= 'Z';
    data_set.big_endian = get16(p, true) < get16(p, false);
  }
  check_nesting_from(p, n, pos, data_set);
}

}  // namespace liteai::interop::dicom
