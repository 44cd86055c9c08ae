// StorePool (store_pool.h): idle Store objects behind a mutex; a lease gives one back on exit.
#include "http/store_pool.h"

namespace inloop::http {

StorePool::Lease::~Lease() {
  if (pool_ && store_) {
    std::lock_guard<std::mutex> lock(pool_->mu_);
    pool_->idle_.push_back(std::move(store_));
  }
}

Status StorePool::Acquire(Lease* out) {
  out->pool_ = this;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      out->store_ = std::move(idle_.back());
      idle_.pop_back();
      return Status::OK();
    }
  }
  return store::Store::Open(dir_, false, &out->store_);
}

}  // namespace inloop::http
