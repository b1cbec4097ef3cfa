// senafas_compare: does the senafas anomaly channel help a compact net at a reduced input size?
// (SPEC section 6: "reduce resolution while still telling the CNN there is an anomaly here".)
//
// Synthetic phantoms (normal vs foreign body) are rendered at SRC px. A ProbMat of normal
// phantoms gives each image's WPM at SRC; a senafas SOM turns the WPM into a (SRC/patch)^2
// anomaly channel. Two compact_cxr nets are trained at that reduced size on the same images:
// 1 channel (the downsampled radiograph) and 2 channels (radiograph + anomaly channel).
//
// usage: senafas_compare [SRC=256] [PATCH=8] [TRAIN=400] [TEST=200] [EPOCHS=8]
#include <cstdio>
#include <algorithm>
#include <cstdlib>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/optim/trainer.hpp"

using namespace liteai;

int main(int argc, char** argv) {
  const int src = argc > 1 ? std::atoi(argv[1]) : 256, patch = argc > 2 ? std::atoi(argv[2]) : 8;
  const int n_train = argc > 3 ? std::atoi(argv[3]) : 400, n_test = argc > 4 ? std::atoi(argv[4]) : 200;
  const int epochs = argc > 5 ? std::atoi(argv[5]) : 8;
  const int small = src / patch;
  if (src < 64 || patch < 2 || small % 8 != 0 || n_train < 16 || n_test < 2 || epochs < 1) {
    std::fprintf(stderr, "usage: senafas_compare [SRC>=64] [PATCH: SRC/PATCH a multiple of 8] [TRAIN>=16] [TEST] [EPOCHS]\n");
    return 2;
  }
  try {
    std::printf("SYNTHETIC phantoms %dx%d, normal vs foreign body; nets at %dx%d\n", src, src, small, small);
    data::PhantomOptions normal_only, two_class;
    normal_only.size = two_class.size = src;
    normal_only.classes = {0};
    two_class.classes = {0, 1};

    anomaly::ProbMatConfig pc;
    pc.width = pc.height = src;
    pc.bins = 64;
    pc.count_bits = 16;
    anomaly::ProbMat pm(pc);
    std::vector<data::Image> normal_maps;  // maps the senafas SOM is fitted on
    for (int i = 0; i < 200; ++i) pm.add(data::make_phantom(11, i, normal_only).image);
    anomaly::ProbTable table = pm.finalize();
    // The SOM sees an unlabeled mix (mostly normal), as a site's archive would give it, so some
    // prototypes learn what a patch holding something improbable looks like.
    for (int i = 0; i < 60; ++i) normal_maps.push_back(anomaly::wpm(table, data::make_phantom(12, i, two_class).image));
    anomaly::Senafas sen;
    anomaly::SenafasOptions so;
    so.patch = patch;
    sen.fit(normal_maps, so);

    // [N, C, small, small]: channel 0 the standardized downsampled image, channel 1 the anomaly channel.
    auto make = [&](int n, uint64_t seed, Tensor& x1, Tensor& x2, Tensor& y) {
      const int64_t plane = int64_t(small) * small;
      x1 = Tensor::empty({n, 1, small, small});
      x2 = Tensor::empty({n, 2, small, small});
      y = Tensor::empty({n});
      for (int i = 0; i < n; ++i) {
        data::Phantom p = data::make_phantom(seed, i, two_class);
        float* a = x1.data() + i * plane;
        data::resize_into(p.image, a, small, small);
        data::standardize(a, static_cast<size_t>(plane));
        data::Image ch = sen.channel(anomaly::wpm(table, p.image));
        std::copy(a, a + plane, x2.data() + 2 * i * plane);
        std::copy(ch.pixels.begin(), ch.pixels.end(), x2.data() + (2 * i + 1) * plane);
        y.data()[i] = static_cast<float>(p.label);
      }
    };
    Tensor tr1, tr2, try_, te1, te2, tey;
    make(n_train, 21, tr1, tr2, try_);
    make(n_test, 22, te1, te2, tey);
    {  // how well does the channel alone separate the classes? (its maximum as a score)
      std::vector<double> sc;
      std::vector<int> lab;
      const int64_t plane = int64_t(small) * small;
      for (int i = 0; i < n_test; ++i) {
        const float* c = te2.data() + (2 * i + 1) * plane;
        sc.push_back(*std::max_element(c, c + plane));
        lab.push_back(static_cast<int>(tey.data()[i]));
      }
      std::printf("anomaly channel alone (its max as the score): foreign-body AUROC %.3f\n", anomaly::auroc(sc, lab));
    }

    for (int channels : {1, 2}) {
      nn::ArchSpec arch;
      arch.name = "compact_cxr";
      arch.set("size", small).set("channels", channels).set("classes", 2.0).set("l2", 1e-4);
      auto model = nn::build_model(arch, 5);
      model->preprocessing.width = model->preprocessing.height = small;
      model->preprocessing.channels = channels;
      optim::TrainOptions to;
      to.epochs = epochs;
      to.optim.lr = 1e-3f;
      to.progress = 0;
      optim::Trainer trainer(model, to);
      optim::TensorSource train(channels == 1 ? tr1 : tr2, try_, Tensor(), 16, 3);
      trainer.fit(train);
      Tensor probs = model->predict(channels == 1 ? te1 : te2).contiguous();
      std::vector<int64_t> labels;
      for (float v : tey.to_vector()) labels.push_back(static_cast<int64_t>(v));
      auto rep = nn::evaluate_single_label(probs.data(), n_test, 2, labels.data(), {"normal", "foreign_body"});
      std::printf("%d channel%s (%s): test accuracy %.3f, foreign-body AUROC %.3f\n", channels, channels == 1 ? " " : "s",
                  channels == 1 ? "image only" : "image + senafas anomaly channel", rep.accuracy, rep.classes[1].auroc);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "senafas_compare: %s\n", e.what());
    return 1;
  }
  return 0;
}
