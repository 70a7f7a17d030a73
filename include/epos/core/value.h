// Value: the payload type of pulses (DESIGN.md §5).
//
// A Value is immutable and JSON-shaped: null, bool, int64, double, string, bytes, array
// or map (string keys, insertion order kept, keys unique). Scalars live inline; strings,
// bytes, arrays and maps live in one heap block with an intrusive atomic reference count,
// so copying a Value (fan-out, join, collect) never copies its contents.
//
// Layout: 16 bytes — an 8-byte word (scalar or pointer) and a one-byte kind tag.
//
// Thread-safety: a Value may be read and copied from any number of threads at once; the
// reference count is atomic (acq_rel on release, relaxed on acquire, as in
// std::shared_ptr). Values are never mutated after construction.
//
// Accessors (`AsInt`, `AsString`, ...) assert the kind; check with `kind()` or `Is*()`
// first. `Find` and `operator[]` on a map return null for a missing key and on a
// non-map; `At` on an array likewise returns null out of range.
#ifndef EPOS_CORE_VALUE_H_
#define EPOS_CORE_VALUE_H_

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace epos {

enum class ValueKind : std::uint8_t {
  kNull,
  kBool,
  kInt,
  kDouble,
  kString,
  kBytes,
  kArray,
  kMap,
};

std::string_view ValueKindName(ValueKind kind);

class Value;
struct MapEntry;

// The bits of a Value without its ownership semantics, for trivially copyable queue
// slots. Produced by `Value::Leak` (which hands over the reference) and consumed exactly
// once by `Value::Adopt`.
struct RawValue {
  std::uint64_t bits;
  ValueKind kind;
};

namespace internal {

// Header of every heap-allocated Value body. `refs` counts Values pointing here.
struct HeapHeader {
  std::atomic<std::uint32_t> refs{1};
  ValueKind kind;
};

void FreeHeap(HeapHeader* header) noexcept;

}  // namespace internal

class Value {
 public:
  Value() noexcept : bits_(0), kind_(ValueKind::kNull) {}
  Value(std::nullptr_t) noexcept : Value() {}  // NOLINT(google-explicit-constructor)
  Value(bool b) noexcept : bits_(b ? 1 : 0), kind_(ValueKind::kBool) {}  // NOLINT
  // int and long delegate to long long: std::int64_t is `long` on LP64, so a cast to it
  // here would make Value(long) delegate to itself.
  Value(int i) noexcept : Value(static_cast<long long>(i)) {}   // NOLINT
  Value(long i) noexcept : Value(static_cast<long long>(i)) {}  // NOLINT
  Value(long long i) noexcept                                   // NOLINT
      : bits_(static_cast<std::uint64_t>(i)), kind_(ValueKind::kInt) {}
  Value(double d) noexcept;                             // NOLINT(google-explicit-constructor)
  Value(std::string_view s);                            // NOLINT(google-explicit-constructor)
  Value(const char* s) : Value(std::string_view(s)) {}  // NOLINT
  Value(const std::string& s) : Value(std::string_view(s)) {}  // NOLINT

  // Bytes (a binary blob; JSON renders it as base64).
  static Value Bytes(std::string_view data);
  // Arrays and maps take their elements by value; pass rvalues to avoid copies.
  static Value Array(std::vector<Value> items);
  static Value Array(std::initializer_list<Value> items);
  // Duplicate keys: the last one wins, at the position of the first.
  static Value Map(std::vector<MapEntry> entries);
  static Value Map(std::initializer_list<std::pair<std::string_view, Value>> entries);

  Value(const Value& other) noexcept : bits_(other.bits_), kind_(other.kind_) { Retain(); }
  Value(Value&& other) noexcept : bits_(other.bits_), kind_(other.kind_) {
    other.kind_ = ValueKind::kNull;
    other.bits_ = 0;
  }
  Value& operator=(const Value& other) noexcept {
    Value copy(other);
    Swap(copy);
    return *this;
  }
  Value& operator=(Value&& other) noexcept {
    Value moved(std::move(other));
    Swap(moved);
    return *this;
  }
  ~Value() { Release(); }

  // Hands this value's reference to the caller; *this becomes null.
  RawValue Leak() && noexcept {
    RawValue raw{bits_, kind_};
    bits_ = 0;
    kind_ = ValueKind::kNull;
    return raw;
  }
  // Takes over the reference held by `raw` (from Leak).
  static Value Adopt(RawValue raw) noexcept {
    Value v;
    v.bits_ = raw.bits;
    v.kind_ = raw.kind;
    return v;
  }

  void Swap(Value& other) noexcept {
    std::swap(bits_, other.bits_);
    std::swap(kind_, other.kind_);
  }

  ValueKind kind() const { return kind_; }
  bool IsNull() const { return kind_ == ValueKind::kNull; }
  bool IsBool() const { return kind_ == ValueKind::kBool; }
  bool IsInt() const { return kind_ == ValueKind::kInt; }
  bool IsDouble() const { return kind_ == ValueKind::kDouble; }
  bool IsNumber() const { return IsInt() || IsDouble(); }
  bool IsString() const { return kind_ == ValueKind::kString; }
  bool IsBytes() const { return kind_ == ValueKind::kBytes; }
  bool IsArray() const { return kind_ == ValueKind::kArray; }
  bool IsMap() const { return kind_ == ValueKind::kMap; }

  bool AsBool() const {
    assert(IsBool());
    return bits_ != 0;
  }
  std::int64_t AsInt() const {
    assert(IsInt());
    return static_cast<std::int64_t>(bits_);
  }
  double AsDouble() const;
  // Int or double, as a double.
  double AsNumber() const;
  // String or bytes contents.
  std::string_view AsString() const;
  std::string_view AsBytes() const { return AsString(); }
  std::span<const Value> AsArray() const;
  std::span<const MapEntry> AsMap() const;

  // Elements of an array or entries of a map; 0 for anything else.
  std::size_t size() const;
  Value At(std::size_t index) const;
  const Value* Find(std::string_view key) const;
  Value operator[](std::string_view key) const;

  // Truthiness as in Lua: null and false are false, everything else true.
  bool Truthy() const { return !(IsNull() || (IsBool() && !AsBool())); }

  // Deep structural equality; 1 == 1.0 is false (kinds differ).
  friend bool operator==(const Value& a, const Value& b);

  // True when both refer to the same heap body (or are equal scalars): for tests of
  // "fan-out never copies".
  bool SharesBodyWith(const Value& other) const {
    return kind_ == other.kind_ && bits_ == other.bits_;
  }

  // Bytes held on the heap by this value alone, counting shared bodies once per visit;
  // for memory accounting.
  std::size_t HeapBytes() const;

 private:
  bool IsHeap() const { return kind_ >= ValueKind::kString; }
  internal::HeapHeader* header() const {
    return reinterpret_cast<internal::HeapHeader*>(bits_);  // NOLINT
  }
  void Retain() const noexcept {
    if (IsHeap()) header()->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Release() noexcept {
    if (IsHeap() && header()->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      internal::FreeHeap(header());
    }
  }
  explicit Value(internal::HeapHeader* header, ValueKind kind)
      : bits_(reinterpret_cast<std::uint64_t>(header)), kind_(kind) {}  // NOLINT

  std::uint64_t bits_;
  ValueKind kind_;
};

static_assert(sizeof(Value) == 16);

struct MapEntry {
  std::string key;
  Value value;
};

}  // namespace epos

#endif  // EPOS_CORE_VALUE_H_
