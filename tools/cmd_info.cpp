// liteai info: what a .lai file holds (header, tensor table), and whether its checksums hold.
#include <cstdio>

#include "command.hpp"
#include "liteai/io/model_file.hpp"

namespace {
const char* kUsage = "usage: liteai info MODEL.lai [--json] [--verify]\n";

const liteai::app::OptionSet& info_options() {
  static const liteai::app::OptionSet s = [] {
    liteai::app::OptionSet o("info", "Prints the model file's header (architecture, preprocessing, classes, provenance) "
                                     "and its tensor table: name, dtype, shape, size. Only the header is read unless "
                                     "--verify is given.");
    o.flag("json", "print the header and table as JSON")
        .flag("verify", "load every tensor and check its CRC32 (exit status 1 with the reason when damaged)");
    return o;
  }();
  return s;
}
}

LAI_COMMAND(info, "show a .lai model file's header and tensors; --verify checks every checksum") {
  using namespace liteai;
  auto p = cli::parse(info_options(), args, kUsage);
  if (!p) return 0;
  LAI_CHECK(p->positional.size() == 1, "info: give exactly one MODEL.lai (liteai info --help)");
  const std::string path = p->positional[0];
  const bool verify = p->options.get_bool("verify"), json = p->options.get_bool("json");
  const io::Json table = io::read_model_file_table(path);
  if (verify) io::load_model_file(path);  // throws naming the damaged tensor
  if (json) {
    std::printf("%s\n", table.dump(2).c_str());
  } else {
    std::printf("header:\n%s\n", table.at("header").dump(2).c_str());
    const auto& tensors = table.get_array("tensors");
    uint64_t total = 0;
    std::printf("tensors: %zu\n", tensors.size());
    for (const io::Json& e : tensors) {
      std::string shape = "[";
      for (size_t i = 0; i < e.at("shape").size(); ++i) {
        if (i) shape += ", ";
        shape += std::to_string(e.at("shape")[i].as_int());
      }
      shape += "]";
      const int64_t bytes = e.get_int("bytes");
      total += static_cast<uint64_t>(bytes);
      std::printf("  %-40s %-5s %-22s %12lld bytes\n", e.get_string("name").c_str(), e.get_string("dtype").c_str(),
                  shape.c_str(), static_cast<long long>(bytes));
    }
    std::printf("tensor data: %.2f MB\n", double(total) / 1e6);
  }
  if (verify) std::printf("checksums: ok\n");
  return 0;
}
