// liteai info: what a .lai file holds (header, tensor table), and whether its checksums hold.
#include <cstdio>

#include "command.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/nn/model_io.hpp"

namespace {
const char* kUsage = "usage: liteai info MODEL.lai [--json] [--verify]\n";

const liteai::app::OptionSet& info_options() {
  static const liteai::app::OptionSet s = [] {
    liteai::app::OptionSet o("info", "Prints the model file's header (architecture, preprocessing, classes, provenance) "
                                     "and its tensor table: name, dtype, shape, size; a graph model also its nodes "
                                     "(operator, output shape, parameters and multiply-accumulates per node, for one "
                                     "image). Only the header is read unless --verify is given.");
    o.flag("json", "print the header and table as JSON")
        .flag("verify", "load the model as predict does: every tensor's CRC32 and the architecture against the "
                        "tensors (exit status 1 with the reason when damaged)");
    return o;
  }();
  return s;
}
}

LAI_COMMAND(info, "show a .lai model file's header, graph and tensors; --verify loads it as predict does") {
  using namespace liteai;
  auto p = cli::parse(info_options(), args, kUsage);
  if (!p) return 0;
  LAI_CHECK(p->positional.size() == 1, "info: give exactly one MODEL.lai (liteai info --help)");
  const std::string path = p->positional[0];
  const bool verify = p->options.get_bool("verify"), json = p->options.get_bool("json");
  const io::Json table = io::read_model_file_table(path);
  if (verify) nn::load_model(path);  // throws naming the damaged tensor or the disagreement
  if (json) {
    std::printf("%s\n", table.dump(2).c_str());
  } else {
    io::Json header = table.at("header");
    const io::Json* arch = header.is_object() ? header.find("architecture") : nullptr;
    std::string nodes;
    if (const io::Json* graph = arch ? arch->find("graph") : nullptr) {  // a table instead of the node list
      nodes = nn::Graph::from_json(*graph, path + " header")->table();
      const size_t count = graph->get_array("nodes").size();
      header["architecture"].set("graph", str_cat(count, " nodes (below)"));
    }
    std::printf("header:\n%s\n", header.dump(2).c_str());
    if (!nodes.empty()) std::printf("graph:\n%s", nodes.c_str());
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
  if (verify) std::printf("checksums: ok, architecture matches the tensors\n");
  return 0;
}
