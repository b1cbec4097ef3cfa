#include "liteai/data/loader.hpp"
#include "liteai/core/log.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"

namespace liteai::data {

void load_sample_into(const Dataset& ds, size_t index, const LoaderOptions& opt, int64_t epoch, float* out,
                      std::vector<int>* labels) {
  thread_local Sample s;  // decode buffers reused per thread: O(threads) memory, no churn
  ds.get_into(index, s);
  if (opt.roi.active()) {
    roi_planes_into(s.image, opt.roi, opt.width, opt.height, opt.standardize, out);
  } else {
    Preprocess p;
    p.width = opt.width;
    p.height = opt.height;
    p.standardize = opt.standardize;
    p.augment = opt.augment;
    if (opt.augment.any()) {
      Generator g(sample_seed(opt.seed, uint64_t(epoch), index));
      preprocess_into(s.image, p, &g, out);
    } else {
      preprocess_into(s.image, p, nullptr, out);
    }
  }
  const size_t plane = size_t(opt.width) * size_t(opt.height);
  for (int c = 1; c < opt.channels; ++c) std::memcpy(out + c * plane, out, plane * sizeof(float));
  if (labels) *labels = s.labels;
  if (s.image.pixels.capacity() > (size_t(64) << 20)) s = Sample();  // don't hoard a huge one
}

struct Loader::State {
  DatasetPtr ds;
  LoaderOptions opt;

  // Queue of produced items; an item is a batch, an error, or the end of the epoch.
  struct Item {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  std::mutex mu;
  std::condition_variable cv_ready;  // consumer waits
  std::condition_variable cv_space;  // producer waits
  std::deque<Item> queue;
  std::atomic<bool> stop{false};
  std::thread producer;
  bool started = false;
  bool finished = false;  // end or error consumed: next() returns nullopt until reset

  // Batch image tensors are recycled once the consumer has dropped every reference to them:
  // steady memory instead of a fresh multi-MB allocation per batch (which fragments the heap
  // and lets the RSS creep up over a long epoch).
  std::vector<Tensor> pool;
  Tensor batch_buffer(int64_t B) {
    const Shape shape{B, opt.planes(), opt.height, opt.width};
    for (Tensor& t : pool)
      if (t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1 && t.shape() == shape) {
        std::atomic_thread_fence(std::memory_order_acquire);  // the consumer's last reads happen-before our writes
        return t;
      }
    Tensor t = Tensor::empty(shape);
    if (pool.size() < size_t(opt.prefetch) + 3) pool.push_back(t);
    return t;
  }

  // Bad files skipped (skip_bad): counted by error kind, the first few kept with their message.
  std::atomic<size_t> skipped{0};
  mutable std::mutex skip_mu;
  ScanReport skips;

  void record_skip(size_t index, const std::exception_ptr& error) {
    std::string message = "unknown error", kind = "error";
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      message = e.what();
      kind = to_string(e.kind());
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    std::lock_guard<std::mutex> lk(skip_mu);
    skips.add(ds->path(index), kind + " error", message);
    if (skipped.fetch_add(1) == 0)
      log(LogLevel::warning, str_cat("liteai data: skipping bad file: ", message, " (further bad files are only counted)"));
  }

  void stop_producer() {
    {
      // Set under the lock: a producer between its wait predicate and the wait itself would
      // otherwise miss the notification and block forever (join would hang).
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv_space.notify_all();
    if (producer.joinable()) producer.join();
    stop = false;
    queue.clear();
  }

  bool push(Item item) {
    std::unique_lock<std::mutex> lk(mu);
    cv_space.wait(lk, [&] { return stop.load() || int(queue.size()) < opt.prefetch; });
    if (stop) return false;
    queue.push_back(std::move(item));
    cv_ready.notify_one();
    return true;
  }

  void produce(int64_t epoch, std::vector<size_t> order) {
    std::exception_ptr error;
    try {
      const size_t n = order.size(), B = size_t(opt.batch_size);
      const size_t pix = size_t(opt.sample_floats()), C = ds->num_classes();
      size_t pos = 0;
      int64_t number = 0;
      while (pos < n && !stop) {
        Tensor images = batch_buffer(int64_t(B));
        float* dst = images.data();
        std::vector<size_t> rows;  // data-set indices of the filled rows
        std::vector<std::vector<int>> row_labels;
        // Fill B good rows; with skip_bad, a failed sample is replaced by the next in the order.
        while (rows.size() < B && pos < n && !stop) {
          const size_t take = std::min(B - rows.size(), n - pos), base = rows.size();
          std::vector<std::exception_ptr> errors(take);
          std::vector<std::vector<int>> labels(take);
          auto work = [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) {
              try {
                load_sample_into(*ds, order[pos + k], opt, epoch, dst + (base + k) * pix, &labels[k]);
              } catch (...) {
                errors[k] = std::current_exception();
              }
            }
          };
          if (opt.decode_threads == 1 || take == 1)
            work(0, int64_t(take));
          else
            parallel_for(0, int64_t(take), 1, work);
          size_t w = base;
          for (size_t k = 0; k < take; ++k) {
            if (errors[k]) {
              if (!opt.skip_bad) std::rethrow_exception(errors[k]);
              record_skip(order[pos + k], errors[k]);
              continue;
            }
            if (w != base + k) std::memmove(dst + w * pix, dst + (base + k) * pix, pix * sizeof(float));
            rows.push_back(order[pos + k]);
            row_labels.push_back(std::move(labels[k]));
            ++w;
          }
          pos += take;
        }
        if (stop || rows.empty()) break;
        if (rows.size() < B) {
          if (opt.drop_last) break;
          Tensor shorter = Tensor::empty({int64_t(rows.size()), opt.planes(), opt.height, opt.width});
          std::memcpy(shorter.data(), dst, rows.size() * pix * sizeof(float));
          images = shorter;
        }
        Batch batch;
        batch.images = images;
        batch.labels = Tensor::zeros({int64_t(rows.size())});
        batch.targets = Tensor::zeros({int64_t(rows.size()), int64_t(C)});
        float* lab = batch.labels.data();
        float* tgt = batch.targets.data();
        for (size_t r = 0; r < rows.size(); ++r) {
          lab[r] = row_labels[r].empty() ? -1.f : float(row_labels[r][0]);
          for (int l : row_labels[r])
            if (l >= 0 && size_t(l) < C) tgt[r * C + size_t(l)] = 1.f;
          batch.paths.push_back(ds->path(rows[r]));
        }
        batch.indices = std::move(rows);
        batch.epoch = epoch;
        batch.number = number++;
        if (!push(Item{std::move(batch), nullptr})) return;
      }
      push(Item{std::nullopt, nullptr});
      return;
    } catch (...) {
      error = std::current_exception();
    }
    // Handed over after the handler has ended: from then on only the consumer holds the
    // exception (no reference count of it is touched here while the consumer reads it).
    push(Item{std::nullopt, std::move(error)});
  }
};

Loader::Loader(DatasetPtr dataset, LoaderOptions options) : s_(std::make_unique<State>()) {
  LAI_CHECK(dataset != nullptr, "Loader: null data set");
  LAI_CHECK(options.batch_size > 0, "Loader: batch_size must be positive, got ", options.batch_size);
  LAI_CHECK(options.width > 0 && options.height > 0, "Loader: bad image size ", options.width, "x", options.height);
  LAI_CHECK(options.channels >= 1 && options.channels <= 4 && (options.channels == 1 || !options.roi.active()),
            "Loader: channels must be 1 to 4 (1 with ROI input), got ", options.channels);
  LAI_CHECK(options.prefetch >= 1, "Loader: prefetch must be >= 1, got ", options.prefetch);
  LAI_CHECK(options.decode_threads == 0 || options.decode_threads == 1, "Loader: decode_threads must be 0 or 1, got ",
            options.decode_threads);
  LAI_CHECK(options.shards >= 1 && options.shard >= 0 && options.shard < options.shards, "Loader: shard ",
            options.shard, " of ", options.shards, " does not exist");
  LAI_CHECK(!options.roi.active() || !options.augment.any(),
            "Loader: ROI input takes no augmentation (the regions are chosen on the image as it is)");
  if (options.roi.active()) options.roi.regions.validate();
  s_->ds = std::move(dataset);
  s_->opt = options;
}

Loader::~Loader() { s_->stop_producer(); }

std::vector<size_t> Loader::epoch_order(int64_t epoch) const {
  std::vector<size_t> order(s_->ds->size());
  std::iota(order.begin(), order.end(), size_t(0));
  if (s_->opt.shuffle) {
    Generator g(sample_seed(s_->opt.seed, uint64_t(epoch), ~uint64_t(0)));
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[g.below(i)]);
  }
  if (s_->opt.shards > 1) {
    size_t kept = 0;
    for (size_t i = size_t(s_->opt.shard); i < order.size(); i += size_t(s_->opt.shards)) order[kept++] = order[i];
    order.resize(kept);
  }
  return order;
}

void Loader::reset(int64_t epoch) {
  s_->stop_producer();
  s_->started = true;
  s_->finished = false;
  s_->producer = std::thread([st = s_.get(), epoch, order = epoch_order(epoch)]() mutable {
    st->produce(epoch, std::move(order));
  });
}

std::optional<Batch> Loader::next() {
  if (!s_->started) reset(0);
  if (s_->finished) return std::nullopt;
  State::Item item;
  {
    std::unique_lock<std::mutex> lk(s_->mu);
    s_->cv_ready.wait(lk, [&] { return !s_->queue.empty(); });
    item = std::move(s_->queue.front());
    s_->queue.pop_front();
  }
  s_->cv_space.notify_one();
  if (item.error) {
    s_->finished = true;
    std::rethrow_exception(item.error);
  }
  if (!item.batch) s_->finished = true;
  return std::move(item.batch);
}

int64_t Loader::batches_per_epoch() const {
  const int64_t all = int64_t(s_->ds->size()), k = s_->opt.shards, n = (all - s_->opt.shard + k - 1) / k;
  const int64_t b = s_->opt.batch_size;
  return s_->opt.drop_last ? n / b : (n + b - 1) / b;
}

size_t Loader::skipped() const { return s_->skipped.load(); }
std::string Loader::first_skipped_error() const {
  std::lock_guard<std::mutex> lk(s_->skip_mu);
  return s_->skips.examples.empty() ? std::string() : s_->skips.examples.front().reason;
}
ScanReport Loader::skip_report() const {
  std::lock_guard<std::mutex> lk(s_->skip_mu);
  return s_->skips;
}
const Dataset& Loader::dataset() const { return *s_->ds; }
const LoaderOptions& Loader::options() const { return s_->opt; }

}  // namespace liteai::data
