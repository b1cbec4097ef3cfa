// liteai info: what a .lai file holds (header, tensor table), and whether its checksums hold.
#include <cstdio>

#include "command.hpp"
#include "liteai/io/model_file.hpp"

namespace {
const char* kHelp =
    "usage: liteai info MODEL.lai [--json] [--verify]\n"
    "\n"
    "Prints the model file's header (architecture, preprocessing, classes, provenance) and its\n"
    "tensor table: name, dtype, shape, size. Only the header is read unless --verify is given, which\n"
    "loads every tensor and checks its CRC32 (exit status 1 with the reason when the file is damaged).\n"
    "--json prints the header and table as JSON instead.\n";
}

LAI_COMMAND(info, "show a .lai model file's header and tensors; --verify checks every checksum") {
  using namespace liteai;
  cli::Options o(args, {}, {"json", "verify"});
  if (o.has("help")) {
    std::printf("%s", kHelp);
    return 0;
  }
  LAI_CHECK(o.positional().size() == 1, "info: give exactly one MODEL.lai (liteai info --help)");
  const std::string path = o.positional()[0];
  const io::Json table = io::read_model_file_table(path);
  if (o.has("verify")) io::load_model_file(path);  // throws naming the damaged tensor
  if (o.has("json")) {
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
  if (o.has("verify")) std::printf("checksums: ok\n");
  return 0;
}
