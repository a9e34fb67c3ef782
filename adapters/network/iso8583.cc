#include "adapters/network/iso8583.h"

#include <cstdio>

namespace pay::iso8583 {

namespace {

constexpr FieldSpec kSpecs[] = {
    {2, "primary account number", Charset::kNumeric, LengthKind::kLlvar, 19},
    {3, "processing code", Charset::kNumeric, LengthKind::kFixed, 6},
    {4, "amount", Charset::kNumeric, LengthKind::kFixed, 12},
    {7, "transmission date and time", Charset::kNumeric, LengthKind::kFixed, 10},
    {11, "system trace audit number", Charset::kNumeric, LengthKind::kFixed, 6},
    {12, "local time", Charset::kNumeric, LengthKind::kFixed, 6},
    {13, "local date", Charset::kNumeric, LengthKind::kFixed, 4},
    {14, "expiration date", Charset::kNumeric, LengthKind::kFixed, 4},
    {22, "point of service entry mode", Charset::kNumeric, LengthKind::kFixed, 3},
    {37, "retrieval reference number", Charset::kAlphanumeric, LengthKind::kFixed, 12},
    {38, "authorization code", Charset::kAlphanumeric, LengthKind::kFixed, 6},
    {39, "response code", Charset::kAlphanumeric, LengthKind::kFixed, 2},
    {41, "terminal id", Charset::kAlphanumericSpecial, LengthKind::kFixed, 8},
    {42, "merchant id", Charset::kAlphanumericSpecial, LengthKind::kFixed, 15},
    {48, "additional data", Charset::kAlphanumericSpecial, LengthKind::kLllvar, 999},
    {49, "currency code", Charset::kNumeric, LengthKind::kFixed, 3},
    {70, "network management information code", Charset::kNumeric, LengthKind::kFixed, 3},
    {90, "original data elements", Charset::kNumeric, LengthKind::kFixed, 42},
    {104, "transaction specific data", Charset::kAlphanumericSpecial, LengthKind::kLllvar, 999},
};

std::string Label(const FieldSpec& f) {
  return "DE " + std::to_string(f.number) + " (" + std::string(f.name) + ")";
}

Error Bad(const std::string& where, const std::string& why) {
  return MakeError(ErrorCode::kInvalidArgument, where + ": " + why);
}

bool Allowed(Charset cs, unsigned char c) {
  switch (cs) {
    case Charset::kNumeric: return c >= '0' && c <= '9';
    case Charset::kAlphanumeric:
      return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ' ';
    case Charset::kAlphanumericSpecial: return c >= 0x20 && c <= 0x7e;
  }
  return false;
}

std::string Shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 24)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

Result<void> CheckValue(const FieldSpec& f, std::string_view v) {
  if (f.length_kind == LengthKind::kFixed && static_cast<int>(v.size()) != f.length) {
    return Bad(Label(f), "expected " + std::to_string(f.length) + " characters, got " +
                             std::to_string(v.size()));
  }
  if (f.length_kind != LengthKind::kFixed && static_cast<int>(v.size()) > f.length) {
    return Bad(Label(f), "length " + std::to_string(v.size()) + " exceeds the maximum " +
                             std::to_string(f.length));
  }
  for (unsigned char c : v) {
    if (!Allowed(f.charset, c)) {
      return Bad(Label(f), std::string(f.charset == Charset::kNumeric ? "only digits are allowed"
                                       : f.charset == Charset::kAlphanumeric
                                           ? "only letters, digits and spaces are allowed"
                                           : "only printable ASCII is allowed") +
                               ", got '" + Shown(v) + "'");
    }
  }
  return {};
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

const FieldSpec* FindField(int number) {
  for (const FieldSpec& f : kSpecs) {
    if (f.number == number) return &f;
  }
  return nullptr;
}

Result<void> Message::Set(int number, std::string value) {
  const FieldSpec* f = FindField(number);
  if (f == nullptr) return Bad("DE " + std::to_string(number), "not supported");
  PAY_TRY(CheckValue(*f, value));
  fields[number] = std::move(value);
  return {};
}

int ResponseMti(int mti) { return mti + 10; }

std::string MtiString(int mti) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04d", mti);
  return buf;
}

Result<std::string> Encode(const Message& m) {
  if (m.mti < 0 || m.mti > 9999) return Bad("MTI", "must be four digits");
  bool secondary = false;
  for (int de = 65; de <= kFieldsMax; ++de) secondary = secondary || m.fields[de].has_value();
  uint64_t bitmaps[2] = {0, 0};
  if (secondary) bitmaps[0] |= 1ULL << 63;
  std::string body;
  for (int de = 2; de <= kFieldsMax; ++de) {
    if (!m.fields[de]) continue;
    const FieldSpec* f = FindField(de);
    if (f == nullptr) return Bad("DE " + std::to_string(de), "not supported");
    const std::string& v = *m.fields[de];
    PAY_TRY(CheckValue(*f, v));
    bitmaps[(de - 1) / 64] |= 1ULL << (63 - (de - 1) % 64);
    if (f->length_kind == LengthKind::kLlvar) {
      char len[4];
      std::snprintf(len, sizeof len, "%02zu", v.size());
      body += len;
    } else if (f->length_kind == LengthKind::kLllvar) {
      char len[5];
      std::snprintf(len, sizeof len, "%03zu", v.size());
      body += len;
    }
    body += v;
  }
  std::string out = MtiString(m.mti);
  for (int i = 0; i < (secondary ? 2 : 1); ++i) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llX", static_cast<unsigned long long>(bitmaps[i]));
    out += hex;
  }
  out += body;
  if (out.size() > kMessageBytesMax) {
    return Bad("message", "longer than " + std::to_string(kMessageBytesMax) + " bytes");
  }
  return out;
}

Result<Message> Decode(std::string_view in) {
  if (in.size() > kMessageBytesMax) {
    return Bad("message", "longer than " + std::to_string(kMessageBytesMax) + " bytes");
  }
  Message m;
  if (in.size() < 4) return Bad("MTI", "message shorter than 4 bytes");
  int mti = 0;
  for (int i = 0; i < 4; ++i) {
    if (in[i] < '0' || in[i] > '9') return Bad("MTI", "not four digits: '" + Shown(in.substr(0, 4)) + "'");
    mti = mti * 10 + (in[i] - '0');
  }
  m.mti = mti;
  size_t pos = 4;
  auto read_bitmap = [&](const char* which, uint64_t* out) -> Result<void> {
    if (in.size() < pos + 16) return Bad(which, "truncated");
    uint64_t v = 0;
    for (size_t i = 0; i < 16; ++i) {
      int h = HexValue(in[pos + i]);
      if (h < 0) return Bad(which, "not 16 hexadecimal digits: '" + Shown(in.substr(pos, 16)) + "'");
      v = (v << 4) | static_cast<uint64_t>(h);
    }
    pos += 16;
    *out = v;
    return {};
  };
  uint64_t bitmaps[2] = {0, 0};
  PAY_TRY(read_bitmap("primary bitmap", &bitmaps[0]));
  bool secondary = (bitmaps[0] >> 63) & 1;
  if (secondary) {
    PAY_TRY(read_bitmap("secondary bitmap", &bitmaps[1]));
    if (bitmaps[1] == 0) return Bad("secondary bitmap", "present but names no field");
  }
  for (int de = 2; de <= kFieldsMax; ++de) {
    if (!((bitmaps[(de - 1) / 64] >> (63 - (de - 1) % 64)) & 1)) continue;
    if (de == 65) return Bad("DE 65", "a tertiary bitmap is not supported");
    const FieldSpec* f = FindField(de);
    if (f == nullptr) return Bad("DE " + std::to_string(de), "present in the bitmap but not supported");
    size_t len = static_cast<size_t>(f->length);
    if (f->length_kind != LengthKind::kFixed) {
      size_t digits = f->length_kind == LengthKind::kLlvar ? 2 : 3;
      if (in.size() < pos + digits) return Bad(Label(*f), "truncated in its length prefix");
      len = 0;
      for (size_t i = 0; i < digits; ++i) {
        char c = in[pos + i];
        if (c < '0' || c > '9') {
          return Bad(Label(*f), "length prefix is not " + std::to_string(digits) + " digits: '" +
                                    Shown(in.substr(pos, digits)) + "'");
        }
        len = len * 10 + static_cast<size_t>(c - '0');
      }
      pos += digits;
      if (len > static_cast<size_t>(f->length)) {
        return Bad(Label(*f), "length " + std::to_string(len) + " exceeds the maximum " +
                                  std::to_string(f->length));
      }
    }
    if (in.size() < pos + len) {
      return Bad(Label(*f), "truncated: " + std::to_string(len) + " characters announced, " +
                                std::to_string(in.size() - pos) + " left");
    }
    std::string_view v = in.substr(pos, len);
    PAY_TRY(CheckValue(*f, v));
    m.fields[de] = std::string(v);
    pos += len;
  }
  if (pos != in.size()) {
    return Bad("message", std::to_string(in.size() - pos) + " bytes after the last field");
  }
  return m;
}

}  // namespace pay::iso8583
