// StorePool: Store objects for the server's threads. store::Store is one-thread-at-a-time, so a
// request borrows one (opening another when all are busy) and gives it back when done; stores are
// kept open between requests. Never shares a Store between two threads at once.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace inloop::http {

class StorePool {
 public:
  explicit StorePool(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  // A borrowed Store; returned to the pool when the lease is destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = default;
    ~Lease();
    store::Store* operator->() const { return store_.get(); }
    store::Store* get() const { return store_.get(); }

   private:
    friend class StorePool;
    StorePool* pool_ = nullptr;
    std::unique_ptr<store::Store> store_;
  };

  // Borrows an open Store (opens one when none is idle).
  Status Acquire(Lease* out);

 private:
  std::string dir_;
  std::mutex mu_;
  std::vector<std::unique_ptr<store::Store>> idle_;
};

}  // namespace inloop::http
