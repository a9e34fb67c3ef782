#pragma once
// A small canonical binary encoding: fixed-width big-endian integers and length-prefixed strings.
// Used for stored blobs and for the bytes the audit chain hashes, so it must never change for an
// existing version tag. Reader never reads past its input; every Get reports failure instead.

#include <cstdint>
#include <string>
#include <string_view>

namespace pay {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> ((3 - i) * 8));
    out_.append(b, 4);
  }
  void U64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> ((7 - i) * 8));
    out_.append(b, 8);
  }
  void Reserve(size_t bytes) { out_.reserve(bytes); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  const std::string& bytes() const { return out_; }
  std::string Take() { return std::move(out_); }
  void Clear() { out_.clear(); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (in_.size() < 1) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) {
    if (in_.size() < 4) return false;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) r = (r << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    *v = r;
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(8);
    *v = r;
    return true;
  }
  bool I64(int64_t* v) {
    uint64_t u;
    if (!U64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  // Fails if the declared length exceeds the rest of the input or `max_bytes`.
  bool Str(std::string* s, size_t max_bytes) {
    uint32_t n;
    if (!U32(&n) || n > in_.size() || n > max_bytes) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace pay
