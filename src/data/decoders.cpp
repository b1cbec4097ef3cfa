// The registry of optional image decoders (see decoders.hpp).
#include "liteai/data/decoders.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <shared_mutex>

namespace liteai::data {
namespace {

struct Registry {
  std::shared_mutex mutex;
  std::vector<std::shared_ptr<const ImageDecoder>> decoders;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_image_decoder(ImageDecoder decoder) {
  auto d = std::make_shared<const ImageDecoder>(std::move(decoder));
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  auto same = std::find_if(r.decoders.begin(), r.decoders.end(), [&](const auto& x) { return x->name == d->name; });
  if (same != r.decoders.end())
    *same = std::move(d);
  else
    r.decoders.push_back(std::move(d));
}

std::shared_ptr<const ImageDecoder> find_image_decoder(const uint8_t* bytes, size_t size) {
  Registry& r = registry();
  std::shared_lock lock(r.mutex);
  for (const auto& d : r.decoders)
    if (d->sniff && d->sniff(bytes, size)) return d;
  return nullptr;
}

bool registered_decoder_accepts_file(const std::string& path) {
  size_t need = 0;
  {
    Registry& r = registry();
    std::shared_lock lock(r.mutex);
    if (r.decoders.empty()) return false;
    for (const auto& d : r.decoders) need = std::max(need, d->sniff_bytes);
  }
  std::vector<uint8_t> head(need);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  head.resize(std::fread(head.data(), 1, head.size(), f));
  std::fclose(f);
  return find_image_decoder(head.data(), head.size()) != nullptr;
}

}  // namespace liteai::data
