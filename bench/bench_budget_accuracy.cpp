// liteai bench budget_accuracy: what lean optimizer state does to final accuracy, 3 seeds each:
//   Fashion-MNIST (real data, Debian's dataset-fashion-mnist): small_cnn, 2 epochs of the 60,000
//     training images, Adam 1e-3, batch 64, accuracy on the 10,000 test images; f32 Adam against
//     8-bit Adam (the conv2 and fc1 state blockwise-quantized).
//     Also 8-bit Adam with bf16 master weights for fc1 (streamed for this).
//   SYNTHETIC phantoms (data::PhantomDataset): normal against foreign body, compact_cxr at 64x64
//     with the demo's recipe (kernel L2 1e-4, Adam 2e-3 with a cosine schedule, batch 32, 10 epochs
//     of 3,000 phantoms), accuracy on 1,000 other phantoms; f32 Adam against 8-bit Adam, against
//     what the planner chooses at 768 MiB for 512x512 (8-bit with a factored second moment,
//     micro-batches of 1 up to fc1), and the same with bf16 master weights for fc1.
// Each record is the mean accuracy in percent over the seeds; its reference is the f32 run and the
// ratio is their difference in points plus 100 (100 = equal; the target is within 0.5 points).
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench.hpp"
#include "liteai/app/data_source.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace {
using namespace liteai;

struct Variant {
  std::string name;
  optim::StatePrecision state;
  bool factored;
  int64_t micro_batch;
  bool bf16_weights = false;  // bf16 master weights for the streamed Dense layer
};

struct Recipe {
  int epochs, batch;
  float lr;
  bool cosine;
  int64_t stream_min;  // Dense weights of at least this many elements are streamed
};

double train_and_test(std::shared_ptr<nn::Model> model, data::DatasetPtr train, data::DatasetPtr test,
                      const Recipe& r, uint64_t seed, const Variant& v) {
  optim::TrainOptions o;
  o.epochs = r.epochs;
  o.optim.lr = r.lr;
  o.optim.state = v.state;
  o.optim.factored = v.factored;
  o.micro_batch = v.micro_batch;
  o.stream_min_elements = r.stream_min;
  o.master_weights = v.bf16_weights ? DType::bf16 : DType::f32;
  o.progress = 0;
  optim::LoaderSource src(train, optim::loader_options_for(*model, r.batch, seed));
  if (r.cosine) {
    o.schedule.kind = optim::ScheduleKind::cosine;
    o.schedule.total_steps = r.epochs * src.batches_per_epoch();
  }
  optim::Trainer trainer(model, o);
  optim::LoaderSource tsrc(test, optim::loader_options_for(*model, 250, 0, false));
  trainer.fit(src);
  return 100.0 * trainer.evaluate(tsrc).metric;
}

void compare(bench::Report& report, const std::string& what, const std::vector<Variant>& variants,
             const std::function<double(uint64_t seed, const Variant& v)>& run) {
  std::vector<double> mean(variants.size(), 0.0);
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::string line = str_cat(what, " seed ", seed, ":");
    for (size_t i = 0; i < variants.size(); ++i) {
      const double acc = run(seed, variants[i]);
      mean[i] += acc / 3;
      char buf[64];
      std::snprintf(buf, sizeof buf, " %s %.2f%%", variants[i].name.c_str(), acc);
      line += buf;
    }
    report.note(line);
  }
  const std::string ref = "acc_" + what + "_" + variants[0].name;
  report.add({ref, mean[0], "%", "", 0});
  for (size_t i = 1; i < variants.size(); ++i)
    report.add({"acc_" + what + "_" + variants[i].name, mean[i], "%", ref, 100.0 + mean[i] - mean[0]});
}
}  // namespace

LAI_BENCH_SUITE(budget_accuracy, "final accuracy with 8-bit and factored optimizer state and bf16 master weights vs f32 Adam, 3 seeds: Fashion-MNIST small_cnn, synthetic phantoms compact_cxr") {
  set_num_threads(args.threads > 0 ? args.threads : 2);
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  struct stat st;
  if (::stat((dir + "/train-images-idx3-ubyte.gz").c_str(), &st) == 0) {
    const size_t n_train = args.quick ? 4000 : 60000, n_test = args.quick ? 1000 : 10000;
    auto train = data::load_fashion_mnist(dir, true, n_train), test = data::load_fashion_mnist(dir, false, n_test);
    compare(report, "fashion_small_cnn",
            {{"adam_f32", optim::StatePrecision::f32, false, 0},
             {"adam_8bit", optim::StatePrecision::q8, false, 0},
             {"adam_8bit_bf16w", optim::StatePrecision::q8, false, 0, true}},
            [&](uint64_t seed, const Variant& v) {
              auto model = nn::build_model("small_cnn", 28, 10, seed);
              model->preprocessing.standardize = false;
              // fc1 (3136 x 128, 401k weights) streamed: what bf16 master weights apply to
              return train_and_test(model, train, test, {args.quick ? 1 : 2, 64, 1e-3f, false, 1 << 18}, seed, v);
            });
  } else {
    report.note("Fashion-MNIST skipped: " + dir + " not found (apt install dataset-fashion-mnist)");
  }
  data::PhantomOptions po;
  po.size = 64;
  po.classes = {0, 1};
  const size_t p_train = args.quick ? 500 : 3000, p_test = args.quick ? 250 : 1000;
  auto ptrain = std::make_shared<data::PhantomDataset>(p_train, 11, po);
  auto ptest = std::make_shared<data::PhantomDataset>(p_test, 12, po);
  compare(report, "phantoms_compact_cxr64",
          {{"adam_f32", optim::StatePrecision::f32, false, 0},
           {"adam_8bit", optim::StatePrecision::q8, false, 0},
           {"adam_8bit_factored_mb1", optim::StatePrecision::q8, true, 1},
           {"adam_8bit_factored_mb1_bf16w", optim::StatePrecision::q8, true, 1, true}},
          [&](uint64_t seed, const Variant& v) {
            nn::ArchSpec arch;
            arch.name = "compact_cxr";
            arch.set("size", 64.0).set("classes", 2.0).set("l2", 1e-4);
            auto model = nn::build_model(arch, seed);
            // the demo's recipe (it learns: 3 epochs at 1e-3 and batch 8 stayed at chance)
            return train_and_test(model, ptrain, ptest, {args.quick ? 1 : 10, 32, 2e-3f, true, 1 << 20}, seed, v);
          });
}
