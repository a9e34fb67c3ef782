#pragma once
// A bounded map for caches: when full, the least recently used entry makes room. Lookups and
// inserts are O(1); memory stays within `capacity` entries however long the process runs.

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace pay {

// A bounded map that evicts its least recently used entry when full.
template <class V>
class LruTable {
 public:
  explicit LruTable(size_t capacity) : capacity_(capacity) {}
  const V* Find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  void Put(const std::string& key, V value) {
    if (capacity_ == 0) return;
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (index_.size() >= capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
  }
  void Erase(const std::string& key) {
    if (auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
  }
  void Clear() {
    index_.clear();
    order_.clear();
  }
  size_t size() const { return index_.size(); }

 private:
  size_t capacity_;
  std::list<std::pair<std::string, V>> order_;  // most recently used first
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
};

}  // namespace pay
