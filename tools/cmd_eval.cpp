// liteai eval: accuracy, loss and per-class metrics of a saved model on a data set.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "command.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/ops/ops.hpp"
#include "liteai/app/data_source.hpp"
#include "nn_common.hpp"

namespace {
const char* kHelp =
    "usage: liteai eval --model MODEL.lai --data DIR [--format auto|mnist|folder|csv] [--split test|train]\n"
    "                   [--batch 256] [--limit N] [--threads T] [--json REPORT.json] [--csv PER_CLASS.csv]\n"
    "                   [--confusion CONFUSION.csv] [--threshold 0.5] [--quiet]\n"
    "\n"
    "Runs the model over the data set and prints `accuracy: 0.xxxx`, the mean loss, the wall time and\n"
    "images/s, then per-class precision, recall, F1 and AUROC (one-vs-rest) unless --quiet.\n"
    "For --format mnist, --split picks the IDX files (t10k-* for test, the default). The data set's\n"
    "classes are matched to the model's by name (a test set may lack some of the model's classes; a\n"
    "class the model does not know is an error); a model without class names needs the same count.\n"
    "Multi-label models use --threshold for decisions.\n";
}

LAI_COMMAND(eval, "evaluate a saved model on a data set (accuracy, loss, per-class metrics, images/s)") {
  using namespace liteai;
  cli::Options o(args,
                 {"model", "data", "format", "split", "batch", "limit", "threads", "json", "csv", "confusion", "threshold",
                  "path-column", "label-column", "no-finding", "image-root"},
                 {"quiet"});
  if (o.has("help")) {
    std::printf("%s%s", kHelp, cli::kCsvHelp);
    return 0;
  }
  LAI_CHECK(o.has("model"), "eval: --model MODEL.lai is required (liteai eval --help)");
  LAI_CHECK(o.has("data"), "eval: --data DIR is required (liteai eval --help)");
  LAI_CHECK(o.positional().empty(), "eval: unexpected argument '", o.positional().empty() ? "" : o.positional()[0], "'");
  if (o.has("threads")) set_num_threads(static_cast<int>(o.get_int("threads", 0)));
  nn::SavedModel saved = nn::load_model(o.get("model"), false);
  nn::Model& model = *saved.model;
  const nn::Head head = model.head();
  const std::string dir = o.get("data");
  const std::string format = cli::resolve_format(dir, o.get("format", "auto"));
  data::DatasetPtr ds = cli::open_data(dir, format, o.get("split", "test"), static_cast<size_t>(o.get_int("limit", 0)),
                                       cli::csv_options(o));
  // The data set numbers its classes by what it found (sorted names); the model by its own list.
  // Map the data's class indices onto the model's by name, so a test set that lacks a class, or
  // lists them in another order, is still scored against the right outputs.
  std::vector<int64_t> to_model;
  const bool by_name = head != nn::Head::none && format != "mnist" &&
                       static_cast<int64_t>(model.class_names.size()) == model.num_classes();
  if (by_name) {
    const auto& names = ds->class_names();
    for (const std::string& n : names) {
      const auto it = std::find(model.class_names.begin(), model.class_names.end(), n);
      LAI_CHECK(it != model.class_names.end(), "eval: class '", n, "' of ", dir, " is not a class of the model ",
                o.get("model"), " (its classes: ", [&] {
                  std::string s;
                  for (const auto& c : model.class_names) s += (s.empty() ? "" : ", ") + c;
                  return s;
                }(), ")");
      to_model.push_back(it - model.class_names.begin());
    }
  } else {
    LAI_CHECK(head == nn::Head::none || static_cast<int64_t>(ds->num_classes()) == model.num_classes(), "eval: the data has ",
              ds->num_classes(), " classes, the model ", model.num_classes(), " (", o.get("model"), ")");
  }
  bool identity = true;
  for (size_t k = 0; k < to_model.size(); ++k) identity = identity && to_model[k] == static_cast<int64_t>(k);
  if (identity && static_cast<int64_t>(to_model.size()) == model.num_classes()) to_model.clear();
  const int batch = static_cast<int>(o.get_int("batch", 256));
  LAI_CHECK(batch > 0, "eval: --batch must be positive");
  const double threshold = o.get_double("threshold", 0.5);
  optim::LoaderSource src(ds, optim::loader_options_for(model, batch, 0, false));
  const bool multi = head == nn::Head::sigmoid;
  nn::MetricsAccumulator acc(std::max<int64_t>(1, model.num_classes()), multi);
  autograd::NoGrad ng;
  model.net->eval();
  const auto t0 = std::chrono::steady_clock::now();
  double loss_sum = 0;
  int64_t samples = 0;
  src.reset(0);
  while (auto b = src.next()) {
    if (!to_model.empty()) {  // re-index labels and multi-hot targets to the model's classes
      float* l = b->labels.data();
      for (int64_t i = 0; i < b->labels.numel(); ++i)
        if (l[i] >= 0) l[i] = static_cast<float>(to_model[static_cast<size_t>(l[i])]);
      if (b->targets.defined()) {
        const int64_t n = b->targets.size(0), k = b->targets.size(1);
        Tensor t = Tensor::zeros({n, model.num_classes()});
        const float* src_t = b->targets.data();
        for (int64_t i = 0; i < n; ++i)
          for (int64_t c = 0; c < k; ++c) t.data()[i * model.num_classes() + to_model[static_cast<size_t>(c)]] = src_t[i * k + c];
        b->targets = t;
      }
    }
    Tensor out = model.forward(b->images);
    Tensor targets = head == nn::Head::none ? b->images : b->targets;
    const int64_t n = b->images.size(0);
    loss_sum += double(nn::head_loss(head, out, b->labels, targets).item()) * n;
    samples += n;
    if (head == nn::Head::softmax) {
      std::vector<int64_t> labels;
      for (float v : b->labels.to_vector()) labels.push_back(static_cast<int64_t>(v));
      acc.add(ops::softmax(out, -1), labels);
    } else if (multi) {
      acc.add(ops::sigmoid(out), b->targets);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  LAI_CHECK(samples > 0, "eval: the data set '", dir, "' has no samples");
  if (head != nn::Head::none) {
    nn::ClassificationReport rep = acc.report(model.class_names, threshold);
    std::printf("accuracy: %.4f\n", rep.accuracy);
    std::printf("loss: %.4f\n", loss_sum / samples);
    std::printf("samples: %lld, wall time: %.2f s, %.0f images/s (%d threads)\n", (long long)samples, secs,
                samples / std::max(1e-9, secs), num_threads());
    if (!o.has("quiet")) std::printf("%s", rep.summary().c_str());
    if (o.has("json")) rep.write_json(o.get("json"));
    if (o.has("csv")) rep.write_csv(o.get("csv"));
    if (o.has("confusion")) {
      LAI_CHECK(!multi, "eval: --confusion needs a single-label model");
      rep.write_confusion_csv(o.get("confusion"));
    }
  } else {
    std::printf("loss: %.4f (mean squared reconstruction error)\n", loss_sum / samples);
    std::printf("samples: %lld, wall time: %.2f s, %.0f images/s (%d threads)\n", (long long)samples, secs,
                samples / std::max(1e-9, secs), num_threads());
  }
  return 0;
}
