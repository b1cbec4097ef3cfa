// Folder and CSV data sets, manifest errors, splits, IDX (Fashion-MNIST) reading.
#include <stb/stb_image_write.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "data_fixtures.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/dataset.hpp"

using namespace liteai;
using namespace liteai::data;
namespace fs = std::filesystem;

namespace {
void png(const std::string& path, int value, int w = 6, int h = 5) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<uint8_t> px(size_t(w) * h, uint8_t(value));
  REQUIRE(stbi_write_png(path.c_str(), w, h, 1, px.data(), w));
}
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("folder data set: sorted classes, sorted files, images only") {
  const std::string dir = test::temp_dir("ds_folder");
  png(dir + "/pneumonia/b.png", 2);
  png(dir + "/pneumonia/a.png", 1);
  png(dir + "/normal/z.png", 3);
  png(dir + "/effusion/c.png", 4);
  test::write_text(dir + "/normal/notes.txt", "ignored");
  test::write_text(dir + "/normal/.hidden.png", "ignored");
  auto ds = FileDataset::from_folder(dir);
  CHECK(ds->class_names() == std::vector<std::string>{"effusion", "normal", "pneumonia"});
  REQUIRE(ds->size() == 4);
  CHECK(ds->path(0) == dir + "/effusion/c.png");
  CHECK(ds->labels(0) == std::vector<int>{0});
  CHECK(ds->path(2) == dir + "/pneumonia/a.png");
  CHECK(ds->labels(3) == std::vector<int>{2});
  CHECK_FALSE(ds->multi_label());
  Sample s = ds->get(3);
  CHECK(s.image.pixels[0] == 2.f);
  CHECK(s.labels == std::vector<int>{2});

  CHECK(error_of([&] { FileDataset::from_folder(dir + "/nope"); }).find("not a directory") != std::string::npos);
  FolderOptions only;
  only.class_names = {"normal", "pneumonia"};
  CHECK(error_of([&] { FileDataset::from_folder(dir, only); }).find("'effusion' is not one of the given classes") !=
        std::string::npos);
}

TEST_CASE("csv manifest: columns by name, single label, relative paths") {
  const std::string dir = test::temp_dir("ds_csv");
  png(dir + "/img/a.png", 10);
  png(dir + "/img/b.png", 20);
  png(dir + "/img/c d.png", 30);
  test::write_text(dir + "/m.csv",
                   "id,file,diagnosis\r\n1,img/a.png,cat\r\n2,img/b.png,dog\r\n3,\"img/c d.png\",\"cat\"\r\n\r\n");
  CsvOptions o;
  o.path_column = "file";
  o.label_column = "Diagnosis";  // case-insensitive fallback
  auto ds = FileDataset::from_csv(dir + "/m.csv", o);
  REQUIRE(ds->size() == 3);
  CHECK(ds->class_names() == std::vector<std::string>{"cat", "dog"});
  CHECK(ds->labels(1) == std::vector<int>{1});
  CHECK(ds->path(2) == (fs::path(dir) / "img/c d.png").string());
  CHECK(ds->get(2).image.pixels[0] == 30.f);
  CHECK_FALSE(ds->multi_label());
  // open_dataset tells a CSV from a folder
  CHECK(open_dataset(dir + "/m.csv", o)->size() == 3);
}

TEST_CASE("csv manifest: NIH-style multi-labels with No Finding and an image root") {
  const std::string dir = test::temp_dir("ds_nih");
  for (const char* f : {"00000001_000.png", "00000001_001.png", "00000002_000.png", "00000003_000.png"})
    png(dir + "/images/" + f, 5);
  test::write_text(dir + "/Data_Entry_2017.csv",
                   "Image Index,Finding Labels,Follow-up #,Patient ID\n"
                   "00000001_000.png,Cardiomegaly,0,1\n"
                   "00000001_001.png,Cardiomegaly|Emphysema,1,1\n"
                   "00000002_000.png,No Finding,0,2\n"
                   "00000003_000.png,Hernia|Infiltration|Effusion,0,3\n");
  CsvOptions o;
  o.path_column = "Image Index";
  o.label_column = "Finding Labels";
  o.image_root = "images";
  o.no_finding = "No Finding";
  auto ds = FileDataset::from_csv(dir + "/Data_Entry_2017.csv", o);
  REQUIRE(ds->size() == 4);
  CHECK(ds->multi_label());
  CHECK(ds->class_names() == std::vector<std::string>{"Cardiomegaly", "Effusion", "Emphysema", "Hernia", "Infiltration"});
  CHECK(ds->labels(1) == std::vector<int>{0, 2});
  CHECK(ds->labels(2).empty());
  CHECK(ds->labels(3) == std::vector<int>{1, 3, 4});
  CHECK(ds->path(0) == (fs::path(dir) / "images" / "00000001_000.png").string());
  // Fixed class list (the 14 NIH findings would be given like this): order is the given one.
  o.class_names = {"Infiltration", "Effusion", "Hernia", "Emphysema", "Cardiomegaly", "Mass"};
  auto fixed = FileDataset::from_csv(dir + "/Data_Entry_2017.csv", o);
  CHECK(fixed->labels(1) == std::vector<int>{3, 4});
  CHECK(fixed->num_classes() == 6);
}

TEST_CASE("csv manifest errors name the file, the line and the problem") {
  const std::string dir = test::temp_dir("ds_csv_bad");
  png(dir + "/a.png", 1);
  test::write_text(dir + "/cols.csv", "path,labels\na.png,x\n");
  std::string e = error_of([&] { FileDataset::from_csv(dir + "/cols.csv"); });
  CHECK(e.find("cols.csv: no column 'label' (columns: path, labels)") != std::string::npos);

  png(dir + "/b.png", 2);
  test::write_text(dir + "/unknown.csv", "path,label\na.png,cat\nb.png,zebra\n");
  CsvOptions known;
  known.class_names = {"cat", "dog"};
  e = error_of([&] { FileDataset::from_csv(dir + "/unknown.csv", known); });
  CHECK(e.find("unknown.csv line 3: unknown label 'zebra' (known: cat, dog)") != std::string::npos);

  test::write_text(dir + "/missing.csv", "path,label\na.png,cat\nnot_there.png,dog\n");
  e = error_of([&] { FileDataset::from_csv(dir + "/missing.csv"); });
  CHECK(e.find("missing.csv line 3: image '") != std::string::npos);
  CHECK(e.find("not_there.png' does not exist") != std::string::npos);

  test::write_text(dir + "/short.csv", "path,x,label\na.png,1,cat\na.png\n");
  e = error_of([&] { FileDataset::from_csv(dir + "/short.csv"); });
  CHECK(e.find("short.csv line 3: 1 fields, the header has 3") != std::string::npos);

  test::write_text(dir + "/empty_label.csv", "path,label\na.png,\n");
  e = error_of([&] { FileDataset::from_csv(dir + "/empty_label.csv"); });
  CHECK(e.find("empty_label.csv line 2: empty label") != std::string::npos);

  test::write_text(dir + "/quote.csv", "path,label\n\"a.png,cat\n");
  e = error_of([&] { FileDataset::from_csv(dir + "/quote.csv"); });
  CHECK(e.find("unterminated quoted field") != std::string::npos);

  test::write_text(dir + "/empty.csv", "");
  CHECK(error_of([&] { FileDataset::from_csv(dir + "/empty.csv"); }).find("empty manifest") != std::string::npos);
  CHECK(error_of([&] { FileDataset::from_csv(dir + "/none.csv"); }).find("none.csv: cannot open") != std::string::npos);
  CHECK(error_of([&] { open_dataset(dir + "/nothing"); }).find("no such data set") != std::string::npos);

  // A multi-label row in a forced single-label manifest
  test::write_text(dir + "/multi.csv", "path,label\na.png,cat|dog\n");
  CsvOptions single;
  single.multi_label = "no";
  e = error_of([&] { FileDataset::from_csv(dir + "/multi.csv", single); });
  CHECK(e.find("2 labels in a single-label manifest") != std::string::npos);
}

TEST_CASE("random split is seeded, disjoint and complete; list split matches names") {
  std::vector<std::string> paths;
  std::vector<std::vector<int>> labels;
  for (int i = 0; i < 50; ++i) {
    paths.push_back("/data/img_" + std::to_string(i) + ".png");
    labels.push_back({i % 3});
  }
  auto ds = std::make_shared<FileDataset>(paths, labels, std::vector<std::string>{"a", "b", "c"}, false);
  Split s1 = split_random(ds, 0.2, 42), s2 = split_random(ds, 0.2, 42), s3 = split_random(ds, 0.2, 43);
  REQUIRE(s1.validation->size() == 10);
  REQUIRE(s1.train->size() == 40);
  std::set<std::string> seen;
  for (size_t i = 0; i < s1.train->size(); ++i) seen.insert(s1.train->path(i));
  for (size_t i = 0; i < s1.validation->size(); ++i) {
    CHECK(seen.count(s1.validation->path(i)) == 0);
    seen.insert(s1.validation->path(i));
    CHECK(s1.validation->path(i) == s2.validation->path(i));
  }
  CHECK(seen.size() == 50);
  bool differs = false;
  for (size_t i = 0; i < 10; ++i) differs |= s1.validation->path(i) != s3.validation->path(i);
  CHECK(differs);
  CHECK(s1.train->class_names() == ds->class_names());

  const std::string dir = test::temp_dir("ds_split");
  test::write_text(dir + "/test_list.txt", "# held out\nimg_3.png\n\n/data/img_7.png\nimg_99.png\n");
  Split byl = split_by_list(ds, read_name_list(dir + "/test_list.txt"));
  REQUIRE(byl.validation->size() == 2);
  CHECK(byl.validation->path(0) == "/data/img_3.png");
  CHECK(byl.validation->labels(1) == std::vector<int>{1});
  CHECK(byl.train->size() == 48);
}

TEST_CASE("IDX files: raw hand-made and gzip'ed Fashion-MNIST") {
  const std::string dir = test::temp_dir("ds_idx");
  std::vector<uint8_t> img = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (int i = 0; i < 12; ++i) img.push_back(uint8_t(i * 20));
  test::write_bytes(dir + "/x-images-idx3-ubyte", img);
  IdxImages r = read_idx_images(dir + "/x-images-idx3-ubyte");
  CHECK(r.count == 2);
  CHECK(r.rows == 2);
  CHECK(r.cols == 3);
  CHECK(r.pixels[11] == 220);
  std::vector<uint8_t> lab = {0, 0, 8, 1, 0, 0, 0, 2, 7, 3};
  test::write_bytes(dir + "/x-labels-idx1-ubyte", lab);
  CHECK(read_idx_labels(dir + "/x-labels-idx1-ubyte") == std::vector<uint8_t>{7, 3});
  img.pop_back();
  test::write_bytes(dir + "/bad-idx3", img);
  CHECK(error_of([&] { read_idx_images(dir + "/bad-idx3"); }).find("IDX size mismatch") != std::string::npos);
  // A corrupt gzip
  test::write_bytes(dir + "/bad.gz", {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(error_of([&] { read_maybe_gzip(dir + "/bad.gz"); }).find("bad.gz") != std::string::npos);

  const std::string fm = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(fm + "/t10k-images-idx3-ubyte.gz")) {
    WARN("Debian's dataset-fashion-mnist is not installed; skipping the real-data check");
    return;
  }
  auto test_set = load_fashion_mnist(fm, false);
  REQUIRE(test_set->size() == 10000);
  CHECK(test_set->num_classes() == 10);
  CHECK(test_set->class_names()[9] == "Ankle boot");
  Sample s = test_set->get(0);
  CHECK(s.image.width == 28);
  CHECK(s.image.height == 28);
  CHECK(s.labels == std::vector<int>{9});  // the first test image is an ankle boot
  std::vector<int> counts(10, 0);
  for (size_t i = 0; i < test_set->size(); ++i) ++counts[size_t(test_set->labels(i)[0])];
  for (int c : counts) CHECK(c == 1000);  // the test set is balanced
  auto train = load_fashion_mnist(fm, true, 100);
  CHECK(train->size() == 100);
  CHECK(train->labels(0) == std::vector<int>{9});
}
