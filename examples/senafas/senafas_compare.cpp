// senafas_compare: does the senafas anomaly channel help a compact net at a reduced input size?
// (SPEC section 6: "reduce resolution while still telling the CNN there is an anomaly here".)
//
// SYNTHETIC phantoms (normal vs foreign body) are rendered at SRC px. A ProbMat of normal
// phantoms gives each image's WPM (brighter side, smoothed 1 px) at SRC; a senafas model fitted on
// the WPMs of other normal phantoms turns a WPM into a (SRC/PATCH)^2 anomaly channel. Two
// compact_cxr nets are trained at that reduced size on the same images, epochs and seed:
// 1 channel (the downsampled radiograph) and 2 channels (radiograph + anomaly channel). Repeated
// for SEEDS seeds (net init + shuffling); the median is printed last.
//
// usage: senafas_compare [SRC=256] [PATCH=4] [TRAIN=400] [TEST=200] [EPOCHS=8] [SEEDS=3]
//
// Measured (2-core Zen 4, shared machine; 400 train / 200 test images, test accuracy and
// foreign-body AUROC; "channel alone" = the channel's maximum as the score):
//   256 -> 32x32 (PATCH 8), 8 epochs, median of 3 seeds: image only 0.500 / 0.451,
//     image + channel 0.740 / 0.816; channel alone AUROC 0.960
//   256 -> 64x64 (PATCH 4), 8 epochs, median of 3 seeds: image only 0.480 / 0.467,
//     image + channel 0.800 / 0.888; channel alone 0.962. 20 epochs, 1 seed: 0.500 / 0.480 vs
//     0.875 / 0.923
//   512 -> 128x128 (PATCH 4), 8 epochs, 1 seed: image only 0.440 / 0.443, image + channel
//     0.760 / 0.865; channel alone 0.956
// The image-only net stays at chance at these sizes and budgets (the objects are a few pixels
// wide after downsampling); the net with the channel does not reach the channel's own AUROC.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/optim/trainer.hpp"

using namespace liteai;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
}  // namespace

int main(int argc, char** argv) {
  const int src = argc > 1 ? std::atoi(argv[1]) : 256, patch = argc > 2 ? std::atoi(argv[2]) : 4;
  const int n_train = argc > 3 ? std::atoi(argv[3]) : 400, n_test = argc > 4 ? std::atoi(argv[4]) : 200;
  const int epochs = argc > 5 ? std::atoi(argv[5]) : 8, seeds = argc > 6 ? std::atoi(argv[6]) : 3;
  const int small = patch > 0 ? src / patch : 0;
  if (src < 64 || patch < 2 || src % patch != 0 || small % 8 != 0 || n_train < 16 || n_test < 2 || epochs < 1 ||
      seeds < 1) {
    std::fprintf(stderr,
                 "usage: senafas_compare [SRC>=64] [PATCH: SRC/PATCH a multiple of 8] [TRAIN>=16] [TEST>=2] [EPOCHS>=1] "
                 "[SEEDS>=1]\n");
    return 2;
  }
  try {
    std::printf("SYNTHETIC phantoms %dx%d, normal vs foreign body; nets at %dx%d\n", src, src, small, small);
    auto t0 = std::chrono::steady_clock::now();
    data::PhantomOptions normal_only, two_class;
    normal_only.size = two_class.size = src;
    normal_only.classes = {0};
    two_class.classes = {0, 1};

    anomaly::ProbMatConfig pc;
    pc.width = pc.height = src;
    pc.bins = 64;
    pc.count_bits = 16;
    anomaly::ProbMat pm(pc);
    for (int i = 0; i < 200; ++i) pm.add(data::make_phantom(11, i, normal_only).image);
    const anomaly::ProbTable table = pm.finalize();
    anomaly::WpmOptions wo;
    wo.side = anomaly::WpmSide::Brighter;  // foreign bodies are denser than the anatomy they cover
    wo.smooth_sigma = 1.f;
    // senafas is fitted on the maps of normal phantoms the ProbMat did not see (their maps look
    // like those of new images; the ProbMat's own images would look too probable).
    std::vector<data::Image> normal_maps;
    for (int i = 0; i < 100; ++i) normal_maps.push_back(anomaly::wpm(table, data::make_phantom(12, i, normal_only).image, wo));
    anomaly::Senafas sen;
    anomaly::SenafasOptions so;
    so.patch = patch;
    sen.fit(normal_maps, so);
    std::printf("ProbMat (200 normals) + senafas (100 normal maps, %dx%d SOM, patch %d, %d features): %.1f s\n", so.rows,
                so.cols, patch, sen.dim(), seconds_since(t0));

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
        data::Image ch = sen.channel(anomaly::wpm(table, p.image, wo));
        std::copy(a, a + plane, x2.data() + 2 * i * plane);
        std::copy(ch.pixels.begin(), ch.pixels.end(), x2.data() + (2 * i + 1) * plane);
        y.data()[i] = static_cast<float>(p.label);
      }
    };
    Tensor tr1, tr2, try_, te1, te2, tey;
    t0 = std::chrono::steady_clock::now();
    make(n_train, 21, tr1, tr2, try_);
    make(n_test, 22, te1, te2, tey);
    std::printf("%d train + %d test images rendered, WPM + channel: %.1f s\n", n_train, n_test, seconds_since(t0));
    {  // how well does the channel alone separate the classes? (its maximum as the score)
      std::vector<double> sc;
      std::vector<int> lab;
      const int64_t plane = int64_t(small) * small;
      for (int i = 0; i < n_test; ++i) {
        const float* c = te2.data() + (2 * i + 1) * plane;
        sc.push_back(*std::max_element(c, c + plane));
        lab.push_back(static_cast<int>(tey.data()[i]));
      }
      std::printf("anomaly channel alone (its max as the score): foreign-body image AUROC %.3f\n",
                  anomaly::auroc(sc, lab));
    }

    std::vector<double> acc[2], auc[2];
    std::vector<int64_t> labels;
    for (float v : tey.to_vector()) labels.push_back(static_cast<int64_t>(v));
    for (int s = 0; s < seeds; ++s)
      for (int channels : {1, 2}) {
        t0 = std::chrono::steady_clock::now();
        nn::ArchSpec arch;
        arch.name = "compact_cxr";
        arch.set("size", small).set("channels", channels).set("classes", 2.0).set("l2", 1e-4);
        auto model = nn::build_model(arch, 5 + uint64_t(s));
        model->preprocessing.width = model->preprocessing.height = small;
        model->preprocessing.channels = channels;
        optim::TrainOptions to;
        to.epochs = epochs;
        to.optim.lr = 1e-3f;
        to.progress = 0;
        optim::Trainer trainer(model, to);
        optim::TensorSource train(channels == 1 ? tr1 : tr2, try_, Tensor(), 16, 3 + uint64_t(s));
        trainer.fit(train);
        Tensor probs = model->predict(channels == 1 ? te1 : te2).contiguous();
        auto rep = nn::evaluate_single_label(probs.data(), n_test, 2, labels.data(), {"normal", "foreign_body"});
        acc[channels - 1].push_back(rep.accuracy);
        auc[channels - 1].push_back(rep.classes[1].auroc);
        std::printf("seed %d, %d channel%s (%s): test accuracy %.3f, foreign-body AUROC %.3f (%.1f s)\n", s, channels,
                    channels == 1 ? " " : "s", channels == 1 ? "image only" : "image + senafas channel", rep.accuracy,
                    rep.classes[1].auroc, seconds_since(t0));
        std::fflush(stdout);
      }
    for (int c = 0; c < 2; ++c)
      std::printf("median of %d seed%s, %s: test accuracy %.3f, foreign-body AUROC %.3f\n", seeds, seeds > 1 ? "s" : "",
                  c == 0 ? "image only             " : "image + senafas channel", median(acc[c]), median(auc[c]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "senafas_compare: %s\n", e.what());
    return 1;
  }
  return 0;
}
