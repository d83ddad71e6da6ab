#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <memory>
#include <unordered_map>
#include <vector>

namespace kinesyslog::net {

// The objects of one worker that live through their own asynchronous handlers (connections,
// PROXY prefaces): the worker holds them until they forget themselves. One thread only.
template <typename T>
class OwnedHandlers {
 public:
  void adopt(std::shared_ptr<T> object) {
    T* raw = object.get();
    objects_.emplace(raw, std::move(object));
  }

  // Releases `object` on the loop's next turn, not now: it may be calling from inside one of
  // its own handlers. Returns false when it was not held.
  bool forget(T* object, asio::io_context& io) {
    auto it = objects_.find(object);
    if (it == objects_.end()) return false;
    auto keep = std::move(it->second);
    objects_.erase(it);
    asio::post(io, [keep = std::move(keep)] {});
    return true;
  }

  // A copy to iterate while the calls made may forget objects.
  std::vector<std::shared_ptr<T>> snapshot() const {
    std::vector<std::shared_ptr<T>> all;
    all.reserve(objects_.size());
    for (const auto& [raw, object] : objects_) all.push_back(object);
    return all;
  }

  bool empty() const { return objects_.empty(); }

 private:
  std::unordered_map<T*, std::shared_ptr<T>> objects_;
};

}  // namespace kinesyslog::net
