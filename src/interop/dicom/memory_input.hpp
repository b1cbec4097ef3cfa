#pragma once
// DCMTK input from bytes in memory, safe against forged lengths and deep nesting.
//
// DCMTK 3.6.7 allocates an element's claimed length before reading it, unless the stream can
// hand out a factory to load the value later (then it skips the value, and a skip past the end
// fails). Its own buffer stream cannot; this one can, so with a small maxReadLength no element
// costs more memory than the bytes that hold it. Deflated data sets are inflated here (bounded)
// instead of through DCMTK's filter, which would again read without a factory.
//
// DCMTK 3.6.7 also parses sequences recursively with no depth limit (10,000 nested sequences,
// 200 KB, overflow an 8 MB stack): check_nesting scans the structure iteratively first.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcistrma.h"

namespace liteai::interop::dicom {

// A byte range, possibly owning its bytes (an inflated data set).
struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const std::vector<uint8_t>> owner;
};

class MemoryProducer : public DcmProducer {
 public:
  MemoryProducer(Bytes bytes, size_t pos) : bytes_(std::move(bytes)), pos_(pos) {}
  OFBool good() const override { return status_.good(); }
  OFCondition status() const override { return status_; }
  OFBool eos() override { return pos_ >= bytes_.size; }
  offile_off_t avail() override { return offile_off_t(bytes_.size - pos_); }
  offile_off_t read(void* buf, offile_off_t len) override;
  offile_off_t skip(offile_off_t len) override;
  void putback(offile_off_t num) override;

  const Bytes& bytes() const { return bytes_; }
  size_t pos() const { return pos_; }
  void replace(Bytes bytes) {  // continue reading from the start of other bytes
    bytes_ = std::move(bytes);
    pos_ = 0;
  }
  void fail(OFCondition why) { status_ = why; }

 private:
  Bytes bytes_;
  size_t pos_;
  OFCondition status_ = EC_Normal;
};

class MemoryInput : public DcmInputStream {
 public:
  MemoryInput(Bytes bytes, size_t pos = 0) : DcmInputStream(&producer_), producer_(std::move(bytes), pos) {}
  DcmInputStreamFactory* newFactory() const override;
  // Deflate: inflates the rest of the bytes (at most kMaxInflated) and checks their nesting.
  OFCondition installCompressionFilter(E_StreamCompression filter) override;
  // Why the stream failed, when it was this class's own check (empty otherwise).
  const std::string& failure() const { return failure_; }

  static constexpr size_t kMaxInflated = size_t(256) << 20;

 private:
  MemoryProducer producer_;  // DcmInputStream only stores its address before it is built
  std::string failure_;
};

// Throws a format liteai::Error when sequences nest deeper than kMaxNesting in the file (the
// meta header tells the data set's encoding; without one it is guessed as DCMTK does). Parts
// that cannot be parsed count as deep as the item tags they hold. A deflated data set is
// checked when it is inflated (MemoryInput::installCompressionFilter).
constexpr int kMaxNesting = 64;
void check_nesting(const uint8_t* p, size_t n);

}  // namespace liteai::interop::dicom
