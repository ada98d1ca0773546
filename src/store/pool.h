// A small blocking pool of database connections, shared by the SQLite and PostgreSQL backends.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "util/error.h"

namespace kt::store {

// Keeps up to max_size connections; Acquire waits while all are lent out and opens new ones lazily.
template <typename Conn>
class ConnectionPool {
 public:
  using Factory = std::function<Result<std::unique_ptr<Conn>>()>;

  // A connection on loan; goes back to the pool when destroyed, unless Discard()ed (e.g. it broke).
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), conn_(std::move(o.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_) pool_->Release(std::move(conn_));
    }
    Conn* operator->() const { return conn_.get(); }
    Conn& operator*() const { return *conn_; }
    void Discard() { conn_.reset(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  ConnectionPool(size_t max_size, Factory factory)
      : max_size_(max_size ? max_size : 1), factory_(std::move(factory)) {}

  // Closes the connections not on loan (after one broke, the others likely did too, e.g. a server restart).
  void DropIdle() {
    std::vector<std::unique_ptr<Conn>> dropped;
    std::lock_guard lock(mu_);
    open_ -= idle_.size();
    dropped.swap(idle_);
    cv_.notify_all();
  }

  Result<Lease> Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_size_; });
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    auto conn = factory_();
    if (!conn) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return tl::unexpected(conn.error());
    }
    return Lease(this, std::move(*conn));
  }

 private:
  void Release(std::unique_ptr<Conn> conn) {
    std::lock_guard lock(mu_);
    if (conn) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

  const size_t max_size_;
  Factory factory_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  size_t open_ = 0;
};

}  // namespace kt::store
