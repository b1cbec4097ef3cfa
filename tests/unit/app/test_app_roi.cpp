// ROI-guided training (app/roi_input.hpp, zoo roi_cxr) on SYNTHETIC phantoms: normal against
// foreign body (small coins, buttons, electrodes), 128 px images read as the whole image at 32 px
// plus the 2 most anomalous 32 px regions at full resolution on the WPM of a ProbMat of normals.
// The net learns (held-out accuracy clearly above chance); a saved model predicts from raw images
// what the trained one computed from loader batches; another ProbMat is never taken silently.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/data_source.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/roi_input.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/phantom.hpp"

using namespace liteai;

namespace {
std::string tmp(const std::string& name) {
  const char* root = std::getenv("LITEAI_TEST_TMP");
  const std::filesystem::path p = std::filesystem::path(root && *root ? root : "/tmp") / "app_roi";
  std::filesystem::create_directories(p);
  return (p / name).string();
}

std::string phantoms(const std::string& name, size_t n, uint64_t seed, std::vector<int> classes) {
  data::PhantomOptions o;
  o.size = 128;
  o.classes = std::move(classes);
  return data::write_phantom_set(tmp(name), n, seed, o).manifest;
}

// A ProbMat of normal phantoms, calibrated on a held-back share, as `liteai probmat build` writes it.
std::string probmat(const std::string& name, uint64_t seed) {
  const std::string path = tmp(name);
  app::Options o(app::probmat_build_options());
  o.set("data", phantoms(name + "_normals", 100, seed, {0}));  // 20 held back to calibrate on
  o.set("size", "128");
  o.set("quiet", "yes");
  const app::BuiltProbMat b = app::build_probmat(o);
  b.probmat.save(path, b.calibration.empty() ? nullptr : &b.calibration);
  return path;
}

app::Options train_options(const std::string& data, const std::string& pm) {
  app::Options o(app::train_options());
  o.set("data", data);
  o.set("roi", pm);
  o.set("roi-k", "2");
  o.set("roi-size", "32");
  o.set("size", "32");
  o.set("epochs", "8");
  o.set("batch", "16");
  o.set("seed", "1");
  o.set("quiet", "yes");
  return o;
}
}  // namespace

TEST_CASE("roi: the ROI net learns foreign bodies; a saved model predicts the same from raw images", "[app][roi]") {
  const std::string pm = probmat("pm.lpm", 1);
  const std::string train_data = phantoms("train", 300, 3, {0, 1}), test_data = phantoms("test", 100, 4, {0, 1});
  app::Options o = train_options(train_data, pm);
  o.set("out", tmp("roi.lai"));
  const app::TrainOutcome t = app::train(o);
  REQUIRE(t.model->arch.name == "roi_cxr");  // the default model with --roi
  CHECK(t.model->preprocessing.roi.k == 2);
  CHECK(t.model->preprocessing.roi.size == 32);
  CHECK(t.model->preprocessing.roi.probmat_sha256.size() == 64);

  app::Options e(app::evaluate_options());
  e.set("data", test_data);
  e.set("quiet", "yes");
  const app::EvalOutcome r = app::evaluate(*t.model, e);
  INFO("held-out accuracy " << r.evaluation.metric << ", AUROC " << r.evaluation.report.to_json().dump());
  CHECK(r.evaluation.samples == 100);
  CHECK(r.evaluation.metric >= 0.70);  // chance is 0.50 (50 normal, 50 foreign body)

  // The loaded model on decoded files, against the trained model on loader batches.
  const std::shared_ptr<nn::Model> loaded = app::load_model(tmp("roi.lai"));
  CHECK(loaded->preprocessing.roi == t.model->preprocessing.roi);
  auto ds = data::open_dataset(test_data);
  optim::LoaderSource src(ds, optim::loader_options_for(*t.model, 12, 0, false));
  const std::optional<optim::TrainBatch> b = src.next();
  REQUIRE(b);
  CHECK(b->images.shape() == Shape{12, 3, 32, 32});
  const std::vector<float> in_process = t.model->predict(b->images).to_vector();
  std::vector<data::Image> raw;
  for (const std::string& p : b->paths) raw.push_back(data::decode_image(p));
  const std::vector<float> from_file = app::predict(*loaded, raw).to_vector();
  REQUIRE(from_file.size() == in_process.size());
  for (size_t i = 0; i < from_file.size(); ++i) CHECK(from_file[i] == Approx(in_process[i]).margin(1e-5));

  // Another ProbMat is refused by hash, wherever it is given; the same bytes elsewhere are fine.
  const std::string other = probmat("other.lpm", 2), moved = tmp("moved.lpm");
  std::filesystem::copy_file(pm, moved, std::filesystem::copy_options::overwrite_existing);
  app::relocate_roi(*loaded, moved);
  CHECK(loaded->preprocessing.roi.probmat == std::filesystem::absolute(moved).string());
  CHECK_THROWS_WITH(app::relocate_roi(*loaded, other), Catch::Contains("is not the ProbMat the model was trained with"));
  CHECK_THROWS_WITH(app::attach_roi(*loaded, other, 2, 32), Catch::Contains("differ"));
  app::Options p(app::predict_options());
  p.set("roi", other);
  CHECK_THROWS_WITH(app::predict_files(*loaded, {raw.empty() ? "" : b->paths[0]}, p),
                    Catch::Contains("is not the ProbMat"));
}

TEST_CASE("roi: options that do not fit are refused naming them", "[app][roi]") {
  const std::string pm = probmat("pm_opts.lpm", 5), data = phantoms("small", 8, 6, {0, 1});
  app::Options o = train_options(data, pm);
  o.set("model", "compact_cxr");
  CHECK_THROWS_WITH(app::train(o), Catch::Contains("--roi needs an ROI-guided model"));
  app::Options h = train_options(data, pm);
  h.set("hflip", "yes");
  CHECK_THROWS_WITH(app::train(h), Catch::Contains("--hflip and --shift are not supported with --roi"));
  app::Options k(app::train_options());
  k.set("data", data);
  k.set("roi-k", "3");
  k.set("quiet", "yes");
  CHECK_THROWS_WITH(app::train(k), Catch::Contains("--roi-k and --roi-size describe the regions of --roi"));
  app::Options m(app::train_options());
  m.set("data", data);
  m.set("model", "roi_cxr");
  m.set("quiet", "yes");
  CHECK_THROWS_WITH(app::train(m), Catch::Contains("an roi_cxr model needs its ProbMat"));
}
