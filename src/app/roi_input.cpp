#include "liteai/app/roi_input.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "liteai/anomaly/calibration.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/data.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/log.hpp"
#include "liteai/io/hash.hpp"

namespace liteai::app {
namespace {

// What the maps of one ProbMat file need.
struct RoiMaps {
  anomaly::ProbMatConfig config;
  anomaly::ProbTable table;
  anomaly::WpmOptions wpm;
};

std::shared_ptr<const RoiMaps> read_maps(const std::string& path, const std::string& sha256) {
  const std::string found = io::sha256_file(path);
  LAI_CHECK(found == sha256, "roi: ", path, " is not the ProbMat the model was trained with (SHA-256 ", found,
            ", the model records ", sha256, ")");
  anomaly::ProbMatCalibration cal;
  const anomaly::ProbMat pm = anomaly::ProbMat::load(path, &cal);
  LAI_CHECK(pm.images() > 0, "roi: ", path, ": the ProbMat holds no images");
  if (cal.empty())
    log(LogLevel::info, str_cat("roi: ", path, " has no calibration: its maps use the default WPM settings"));
  auto maps = std::make_shared<RoiMaps>();
  maps->config = pm.config();
  maps->table = pm.finalize(cal.empty() ? anomaly::FinalizeOptions{} : cal.finalize);
  maps->wpm = cal.empty() ? anomaly::WpmOptions{} : cal.wpm;
  return maps;
}

// One read per file content: training, evaluation and many predict calls share it.
std::shared_ptr<const RoiMaps> maps_of(const nn::RoiPreprocessing& roi) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const RoiMaps>> by_hash;
  static std::shared_ptr<const RoiMaps> last;  // kept between predict calls
  std::lock_guard<std::mutex> lk(mu);
  std::shared_ptr<const RoiMaps> m = by_hash[roi.probmat_sha256].lock();
  if (!m) {
    m = read_maps(roi.probmat, roi.probmat_sha256);
    by_hash[roi.probmat_sha256] = m;
  }
  last = m;
  return m;
}

}  // namespace

void attach_roi(nn::Model& model, const std::string& probmat, int64_t k, int64_t size) {
  LAI_CHECK(model.arch.name == "roi_cxr", "roi: --roi needs an ROI-guided model (--model roi_cxr), not '",
            model.arch.name, "'");
  LAI_CHECK(model.arch.get_int("crops", 0) == k, "roi: the model takes ", model.arch.get_int("crops", 0),
            " regions, --roi-k is ", k);
  data::RoiOptions ro;
  ro.k = int(k);
  ro.size = int(size);
  ro.validate();
  nn::RoiPreprocessing r;
  r.k = k;
  r.size = size;
  r.probmat = std::filesystem::absolute(probmat).lexically_normal().string();
  r.probmat_sha256 = io::sha256_file(probmat);
  const nn::RoiPreprocessing& had = model.preprocessing.roi;
  LAI_CHECK(!had.active() || (had.probmat_sha256 == r.probmat_sha256 && had.k == k && had.size == size),
            "roi: the model was trained with ", had.k, " regions of ", had.size, " px on ProbMat ", had.probmat,
            " (SHA-256 ", had.probmat_sha256, "); --roi ", probmat, " --roi-k ", k, " --roi-size ", size,
            " differ (SHA-256 ", r.probmat_sha256, ")");
  maps_of(r);  // reads and checks the file now, not at the first batch
  model.preprocessing.roi = r;
}

void relocate_roi(nn::Model& model, const std::string& probmat) {
  nn::RoiPreprocessing& r = model.preprocessing.roi;
  LAI_CHECK(r.active(), "roi: the model has no ROI input (it was not trained with --roi); drop --roi");
  const std::string found = io::sha256_file(probmat);
  LAI_CHECK(found == r.probmat_sha256, "roi: ", probmat, " is not the ProbMat the model was trained with (SHA-256 ",
            found, "; the model records ", r.probmat, ", SHA-256 ", r.probmat_sha256, ")");
  r.probmat = std::filesystem::absolute(probmat).lexically_normal().string();
}

data::RoiInput roi_input(const nn::Model& model) {
  const nn::RoiPreprocessing& r = model.preprocessing.roi;
  data::RoiInput in;
  if (!r.active()) {
    LAI_CHECK(model.arch.name != "roi_cxr", "roi: an roi_cxr model needs its ProbMat (train it with --roi PM.lpm)");
    return in;
  }
  in.regions.k = int(r.k);
  in.regions.size = int(r.size);
  std::shared_ptr<const RoiMaps> maps = maps_of(r);
  in.map = [maps](const data::Image& image) {
    const anomaly::ProbMatConfig& c = maps->config;
    return anomaly::wpm(maps->table, probmat_units(c, to_unit(image, c.width, c.height)), maps->wpm);
  };
  return in;
}

}  // namespace liteai::app
