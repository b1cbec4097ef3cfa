// Three hospitals, one model, no image leaves a site: federated averaging on SYNTHETIC phantoms.
//
//   federated_sites WORK_DIR [--rounds 4] [--epochs 4] [--size 64] [--images 120] [--prox-mu 0]
//
// The sites' data are not identically distributed: each sees the same three findings (normal,
// foreign body, opacity) at its own prevalence (A: mostly normals, B: mostly foreign bodies, C:
// mostly opacities) and with its own exposure noise, and holds few images. Every round each site trains the current global model on its own data
// (`liteai train --init global.lai`), the coordinator merges the three (`liteai merge`, weights
// from the sample counts in the files' provenance), and the next round starts from the merge. On
// one common test set with all five classes, the merged model is compared with each site's own
// model (trained the same number of epochs on its data alone). Exit status 1 if the merged model
// does not beat every site model. --prox-mu MU > 0 trains the rounds with FedProx (`liteai train
// --init global.lai --prox-mu MU`: (MU/2)||w - w_global||^2 keeps each site near the global model).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "liteai/app/data_tasks.hpp"
#include "liteai/app/federated_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/data/phantom.hpp"

using namespace liteai;

namespace {
struct Site {
  std::string name, classes;
  double noise;
};

double accuracy(nn::Model& m, const std::string& data) {
  app::Options e(app::evaluate_options());
  e.set("data", data);
  e.set("quiet", "yes");
  return app::evaluate(m, e).evaluation.report.accuracy;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: federated_sites WORK_DIR [--rounds R] [--epochs E] [--size S] [--images N] [--prox-mu MU]\n");
    return 2;
  }
  const std::string work = argv[1];
  int rounds = 4, size = 64, images = 120, local_epochs = 4;
  double prox_mu = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--prox-mu") prox_mu = std::atof(argv[i + 1]);
    if (k == "--rounds") rounds = v;
    else if (k == "--size") size = v;
    else if (k == "--images") images = v;
    else if (k == "--epochs") local_epochs = v;
  }
  std::filesystem::create_directories(work);
  const std::vector<Site> sites = {{"site_a", "0,0,0,0,1,1,3", 0.6},
                                   {"site_b", "0,1,1,1,1,3,3", 1.0},
                                   {"site_c", "0,1,3,3,3,3,3", 1.4}};
  auto synth = [&](const std::string& out, int n, uint64_t seed, const std::string& classes, double noise) {
    app::Options o(app::synth_options());
    o.set("out", out);
    o.set_int("n", n);
    o.set_int("size", size);
    o.set_int("seed", int64_t(seed));
    o.set("classes", classes);
    o.set_number("noise", noise);
    o.set("quiet", "yes");
    app::write_phantoms(o);
  };
  for (size_t s = 0; s < sites.size(); ++s) synth(work + "/" + sites[s].name, images, 100 + s, sites[s].classes, sites[s].noise);
  synth(work + "/test", 150, 999, "0,1,3", 1.0);
  const std::string test = work + "/test/manifest.csv";

  // Round 0: the agreed starting point, every class named (no data needed).
  app::Options mk(app::train_options());
  mk.set("model", "small_cnn");
  mk.set_int("size", size);
  std::shared_ptr<nn::Model> global = app::create_model(mk);
  {
    nn::ArchSpec spec = global->arch;
    spec.set("classes", 3.0);
    global = nn::build_model(spec, 7);
    global->class_names = {"foreign_body", "normal", "opacity"};  // the data's sorted names
  }
  std::string global_path = work + "/global_0.lai";
  app::save_model(*global, global_path);

  auto train_site = [&](const Site& s, const std::string& init, int epochs, const std::string& out, double mu) {
    app::Options o(app::train_options());
    if (mu > 0) o.set_number("prox-mu", mu);
    o.set("data", work + "/" + s.name + "/manifest.csv");
    o.set("init", init);
    o.set_int("epochs", epochs);
    o.set_int("batch", 8);
    o.set_number("lr", 1e-3);
    o.set_int("seed", 3);
    o.set("quiet", "yes");
    o.set("out", out);
    app::train(o);
  };
  std::printf("federated averaging%s, %d rounds x %d local epochs, 3 sites of %d images (SYNTHETIC phantoms, %dx%d)\n",
              prox_mu > 0 ? str_cat(" with FedProx (mu ", prox_mu, ")").c_str() : "", rounds, local_epochs, images, size,
              size);
  for (int r = 1; r <= rounds; ++r) {
    std::vector<std::string> trained;
    for (const Site& s : sites) {
      const std::string out = work + "/" + s.name + "_round" + std::to_string(r) + ".lai";
      train_site(s, global_path, local_epochs, out, prox_mu);
      trained.push_back(out);
    }
    app::Options m(app::merge_options());
    global_path = work + "/global_" + std::to_string(r) + ".lai";
    m.set("out", global_path);
    m.set("quiet", "yes");
    const app::MergeOutcome merged = app::merge_models(trained, m);
    std::printf("round %d: merged test accuracy %.3f\n", r, accuracy(*merged.model, test));
  }
  // Each site alone, the same total epochs, from the same start.
  std::shared_ptr<nn::Model> final_global = app::load_model(global_path);
  const double merged_acc = accuracy(*final_global, test);
  bool beats_all = true;
  std::printf("\n%-10s %-32s %s\n", "model", "class mix (0 normal, 1 fb, 3 opacity)", "test accuracy (3 classes)");
  for (const Site& s : sites) {
    const std::string out = work + "/" + s.name + "_alone.lai";
    train_site(s, work + "/global_0.lai", local_epochs * rounds, out, 0);
    std::shared_ptr<nn::Model> alone = app::load_model(out);
    const double a = accuracy(*alone, test);
    std::printf("%-10s %-32s %.3f\n", s.name.c_str(), s.classes.c_str(), a);
    beats_all = beats_all && merged_acc > a;
  }
  std::printf("%-10s %-32s %.3f\n", "merged", prox_mu > 0 ? "all three sites, FedProx" : "all three sites, FedAvg", merged_acc);
  std::printf("%s\n", beats_all ? "the merged model beats every site's own model" : "the merged model does NOT beat every site model");
  return beats_all ? 0 : 1;
}
