// UniqueFunction: a move-only std::function (C++23's std::move_only_function is not in
// GCC 12), so callbacks may own move-only things such as an AsyncOp.
//
// Thread-safety: like any value; calling it from two threads at once is a race.
#ifndef EPOS_CORE_UNIQUE_FUNCTION_H_
#define EPOS_CORE_UNIQUE_FUNCTION_H_

#include <memory>
#include <type_traits>
#include <utility>

namespace epos {

template <class Signature>
class UniqueFunction;

template <class R, class... Args>
class UniqueFunction<R(Args...)> {
 public:
  UniqueFunction() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, UniqueFunction>>>
  UniqueFunction(F&& f)  // NOLINT(google-explicit-constructor)
      : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}

  R operator()(Args... args) { return impl_->Call(std::forward<Args>(args)...); }
  explicit operator bool() const { return impl_ != nullptr; }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual R Call(Args... args) = 0;
  };
  template <class F>
  struct Impl final : Base {
    explicit Impl(F&& fn) : f(std::move(fn)) {}
    explicit Impl(const F& fn) : f(fn) {}
    R Call(Args... args) override { return f(std::forward<Args>(args)...); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

}  // namespace epos

#endif  // EPOS_CORE_UNIQUE_FUNCTION_H_
