#pragma once
// Synthetic chest-radiograph phantoms (PA view), generated from a seed. SYNTHETIC DATA: drawn
// by formula, not from any patient; good for demos, tests, benchmarks and learning-to-learn,
// never for clinical claims.
//
// Each phantom has lungs with vessel markings, mediastinum, heart, spine, trachea, ribs,
// clavicles, shoulders, soft tissue and a gastric bubble, with anatomy, exposure and noise
// varied per image, plus at most one finding class of known position:
//   0 normal, 1 foreign_body (coin, button, ECG electrode: dense discs/rings),
//   2 nodule, 3 opacity (lobar), 4 effusion (fluid with a meniscus at a lung base).
// The mask marks the finding's pixels (empty for normal images).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "liteai/data/dataset.hpp"
#include "liteai/data/image.hpp"

namespace liteai::data {

const std::vector<std::string>& phantom_class_names();  // normal, foreign_body, nodule, opacity, effusion

struct PhantomOptions {
  int size = 512;                      // square images, size x size
  std::vector<int> classes = {0, 1, 2, 3, 4};  // sample i gets classes[i % classes.size()]
  float noise = 1.f;                   // scales the quantum noise (0 = none)
};

struct PhantomFinding {
  int label = 0;
  std::string kind;          // coin, button, electrode, nodule, opacity, effusion
  std::string side;          // lung findings: "right" / "left" (patient side; right lung is on the image left)
  float cx = 0, cy = 0, r = 0;  // centre and radius in pixels (for opacity/effusion: of the mask's bounding box)
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // mask bounding box, [x0, x1) x [y0, y1)
};

struct Phantom {
  Image image;  // 0..255, already quantized to 8-bit levels (identical to the PNG written)
  Image mask;   // 0 or 1 (max_value 1); 1 on the finding's pixels
  int label = 0;
  std::vector<PhantomFinding> findings;  // foreign bodies may come as several (electrodes)
};

// The phantom of `index` in the set of `seed`: depends only on (seed, index, options).
Phantom make_phantom(uint64_t seed, uint64_t index, const PhantomOptions& opt = {});
// The label make_phantom gives `index` (without rendering).
int phantom_label(uint64_t index, const PhantomOptions& opt = {});

// A data set that renders phantoms on demand: O(1) memory for any size, path "phantom#i".
class PhantomDataset : public Dataset {
 public:
  PhantomDataset(size_t count, uint64_t seed, PhantomOptions opt = {});
  size_t size() const override { return count_; }
  Sample get(size_t i) const override;
  std::string path(size_t i) const override;
  std::vector<int> labels(size_t i) const override;
  const std::vector<std::string>& class_names() const override { return phantom_class_names(); }

 private:
  size_t count_;
  uint64_t seed_;
  PhantomOptions opt_;
};

// Writes `count` phantoms to `dir`: images/NNNNNN.png (8-bit gray), masks/NNNNNN_mask.png,
// manifest.csv (path,label,mask,kind,cx,cy,r,x0,y0,x1,y1; paths relative to dir; one row per
// image, geometry of its first finding), findings.csv (one row per finding) and README.txt.
// Rendering runs in the library's arena; `progress(done, count)` is called from this thread.
struct SynthSummary {
  size_t images = 0;
  std::vector<size_t> per_class;  // counts by label
  std::string manifest;           // path of manifest.csv
};
SynthSummary write_phantom_set(const std::string& dir, size_t count, uint64_t seed, const PhantomOptions& opt = {},
                               const std::function<void(size_t, size_t)>& progress = {});

}  // namespace liteai::data
