#include "epos/core/value.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <unordered_map>

namespace epos {
namespace {

using internal::HeapHeader;

// Strings and bytes: header, length, then the characters (not NUL-terminated).
struct StringBody {
  HeapHeader header;
  std::size_t size;
  char* data() { return reinterpret_cast<char*>(this + 1); }  // NOLINT
};

struct ArrayBody {
  HeapHeader header;
  std::vector<Value> items;
};

struct MapBody {
  HeapHeader header;
  std::vector<MapEntry> entries;
};

HeapHeader* NewString(std::string_view s, ValueKind kind) {
  void* raw = ::operator new(sizeof(StringBody) + s.size());
  auto* body = new (raw) StringBody{HeapHeader{}, s.size()};
  body->header.kind = kind;
  if (!s.empty()) std::memcpy(body->data(), s.data(), s.size());
  return &body->header;
}

StringBody* AsStringBody(HeapHeader* h) { return reinterpret_cast<StringBody*>(h); }  // NOLINT
ArrayBody* AsArrayBody(HeapHeader* h) { return reinterpret_cast<ArrayBody*>(h); }     // NOLINT
MapBody* AsMapBody(HeapHeader* h) { return reinterpret_cast<MapBody*>(h); }           // NOLINT

}  // namespace

namespace internal {

void FreeHeap(HeapHeader* header) noexcept {
  switch (header->kind) {
    case ValueKind::kString:
    case ValueKind::kBytes: {
      StringBody* body = AsStringBody(header);
      body->~StringBody();
      ::operator delete(body);
      return;
    }
    case ValueKind::kArray:
      delete AsArrayBody(header);
      return;
    case ValueKind::kMap:
      delete AsMapBody(header);
      return;
    default:
      assert(false && "FreeHeap on a scalar");
  }
}

}  // namespace internal

std::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kDouble:
      return "double";
    case ValueKind::kString:
      return "string";
    case ValueKind::kBytes:
      return "bytes";
    case ValueKind::kArray:
      return "array";
    case ValueKind::kMap:
      return "map";
  }
  return "unknown";
}

Value::Value(double d) noexcept
    : bits_(std::bit_cast<std::uint64_t>(d)), kind_(ValueKind::kDouble) {}

Value::Value(std::string_view s) : Value(NewString(s, ValueKind::kString), ValueKind::kString) {}

Value Value::Bytes(std::string_view data) {
  return Value(NewString(data, ValueKind::kBytes), ValueKind::kBytes);
}

Value Value::Array(std::vector<Value> items) {
  auto* body = new ArrayBody{HeapHeader{}, std::move(items)};
  body->header.kind = ValueKind::kArray;
  return Value(&body->header, ValueKind::kArray);
}

Value Value::Array(std::initializer_list<Value> items) { return Array(std::vector<Value>(items)); }

Value Value::Map(std::vector<MapEntry> entries) {
  // Enforce unique keys; small maps (the common case) check pairwise.
  bool has_duplicates = false;
  if (entries.size() <= 16) {
    for (std::size_t i = 1; i < entries.size() && !has_duplicates; ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (entries[i].key == entries[j].key) {
          has_duplicates = true;
          break;
        }
      }
    }
  } else {
    std::unordered_map<std::string_view, std::size_t> seen;
    for (const MapEntry& e : entries) {
      if (!seen.emplace(e.key, 0).second) {
        has_duplicates = true;
        break;
      }
    }
  }
  if (has_duplicates) {
    std::vector<MapEntry> unique;
    std::unordered_map<std::string, std::size_t> position;
    for (MapEntry& e : entries) {
      auto [it, inserted] = position.emplace(e.key, unique.size());
      if (inserted) {
        unique.push_back(std::move(e));
      } else {
        unique[it->second].value = std::move(e.value);
      }
    }
    entries = std::move(unique);
  }
  auto* body = new MapBody{HeapHeader{}, std::move(entries)};
  body->header.kind = ValueKind::kMap;
  return Value(&body->header, ValueKind::kMap);
}

Value Value::Map(std::initializer_list<std::pair<std::string_view, Value>> entries) {
  std::vector<MapEntry> list;
  list.reserve(entries.size());
  for (const auto& [key, value] : entries) list.push_back(MapEntry{std::string(key), value});
  return Map(std::move(list));
}

double Value::AsDouble() const {
  assert(IsDouble());
  return std::bit_cast<double>(bits_);
}

double Value::AsNumber() const {
  assert(IsNumber());
  return IsInt() ? static_cast<double>(AsInt()) : AsDouble();
}

std::string_view Value::AsString() const {
  assert(IsString() || IsBytes());
  StringBody* body = AsStringBody(header());
  return {body->data(), body->size};
}

std::span<const Value> Value::AsArray() const {
  assert(IsArray());
  return AsArrayBody(header())->items;
}

std::span<const MapEntry> Value::AsMap() const {
  assert(IsMap());
  return AsMapBody(header())->entries;
}

std::size_t Value::size() const {
  if (IsArray()) return AsArrayBody(header())->items.size();
  if (IsMap()) return AsMapBody(header())->entries.size();
  return 0;
}

Value Value::At(std::size_t index) const {
  if (!IsArray()) return {};
  const auto& items = AsArrayBody(header())->items;
  return index < items.size() ? items[index] : Value();
}

const Value* Value::Find(std::string_view key) const {
  if (!IsMap()) return nullptr;
  for (const MapEntry& e : AsMapBody(header())->entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

Value Value::operator[](std::string_view key) const {
  const Value* v = Find(key);
  return v != nullptr ? *v : Value();
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  if (a.bits_ == b.bits_) return a.kind_ != ValueKind::kDouble || a.AsDouble() == a.AsDouble();
  switch (a.kind_) {
    case ValueKind::kNull:
      return true;
    case ValueKind::kBool:
    case ValueKind::kInt:
      return false;  // bits differ
    case ValueKind::kDouble:
      return a.AsDouble() == b.AsDouble();  // +0.0 == -0.0
    case ValueKind::kString:
    case ValueKind::kBytes:
      return a.AsString() == b.AsString();
    case ValueKind::kArray: {
      auto x = a.AsArray();
      auto y = b.AsArray();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!(x[i] == y[i])) return false;
      }
      return true;
    }
    case ValueKind::kMap: {
      // Maps compare as sets of entries: order does not matter.
      auto x = a.AsMap();
      if (x.size() != b.size()) return false;
      for (const MapEntry& e : x) {
        const Value* other = b.Find(e.key);
        if (other == nullptr || !(*other == e.value)) return false;
      }
      return true;
    }
  }
  return false;
}

std::size_t Value::HeapBytes() const {
  switch (kind_) {
    case ValueKind::kString:
    case ValueKind::kBytes:
      return sizeof(StringBody) + AsString().size();
    case ValueKind::kArray: {
      std::size_t n = sizeof(ArrayBody) + AsArrayBody(header())->items.capacity() * sizeof(Value);
      for (const Value& v : AsArray()) n += v.HeapBytes();
      return n;
    }
    case ValueKind::kMap: {
      std::size_t n = sizeof(MapBody) + AsMapBody(header())->entries.capacity() * sizeof(MapEntry);
      for (const MapEntry& e : AsMap()) {
        n += e.value.HeapBytes();
        if (e.key.capacity() > 15) n += e.key.capacity() + 1;
      }
      return n;
    }
    default:
      return 0;
  }
}

}  // namespace epos
