// A minimal streaming JSON writer that appends to a string: record pages are written without building a DOM.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace procore_emulator {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) { first_.reserve(16); }

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  void Key(std::string_view key) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    WriteString(key);
    out_ += ':';
    after_key_ = true;
  }

  void String(std::string_view s) {
    Prefix();
    WriteString(s);
  }
  void Int(int64_t v) {
    Prefix();
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, end);
  }
  void Double(double v) {
    Prefix();
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%.6g", v);
    out_.append(buf, static_cast<size_t>(n));
  }
  void Bool(bool v) {
    Prefix();
    out_ += v ? "true" : "false";
  }
  void Null() {
    Prefix();
    out_ += "null";
  }
  // Inserts already-serialized JSON as one value.
  void Raw(std::string_view json) {
    Prefix();
    out_ += json;
  }

  // Shorthands for "key": value.
  void Field(std::string_view k, std::string_view v) { Key(k), String(v); }
  void Field(std::string_view k, const char* v) { Key(k), String(v); }
  void Field(std::string_view k, const std::string& v) { Key(k), String(v); }
  void Field(std::string_view k, int64_t v) { Key(k), Int(v); }
  void Field(std::string_view k, int v) { Key(k), Int(v); }
  void Field(std::string_view k, bool v) { Key(k), Bool(v); }
  void FieldDouble(std::string_view k, double v) { Key(k), Double(v); }
  void FieldNull(std::string_view k) { Key(k), Null(); }
  // A string, or null when empty.
  void FieldOrNull(std::string_view k, std::string_view v) {
    Key(k);
    if (v.empty())
      Null();
    else
      String(v);
  }

 private:
  void Prefix() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void Open(char c) {
    Prefix();
    out_ += c;
    first_.push_back(true);
  }
  void Close(char c) {
    first_.pop_back();
    out_ += c;
  }
  void WriteString(std::string_view s) {
    out_ += '"';
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += ch;
          }
      }
    }
    out_ += '"';
  }

  std::string& out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace procore_emulator
