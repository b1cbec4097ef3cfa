// liteai card: a model file's provenance as a Markdown model card.
#include <cstdio>
#include <filesystem>

#include "command.hpp"
#include "liteai/app/trust_tasks.hpp"
#include "liteai/io/model_file.hpp"

LAI_COMMAND(card, "a model file's provenance as a Markdown model card") {
  using namespace liteai;
  static const app::OptionSet set("card", "Prints the model card of a .lai file (Markdown): what the model is, its "
                                          "inputs and classes, how and on what it was trained, its metrics, "
                                          "calibration and lineage.");
  auto p = cli::parse(set, args, "usage: liteai card MODEL.lai\n");
  if (!p) return 0;
  LAI_CHECK(p->positional.size() == 1, "card: give exactly one MODEL.lai");
  const io::Json table = io::read_model_file_table(p->positional[0]);
  std::printf("%s", app::model_card(table.at("header"), std::filesystem::path(p->positional[0]).filename().string()).c_str());
  return 0;
}
