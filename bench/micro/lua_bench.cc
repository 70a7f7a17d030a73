// Micro-benchmarks of the Lua layer (issue 3 targets: a guard ≤ 100 ns, a Lua snippet hop
// ≤ 400 ns). Each runs on the calling thread's Vm, as a worker would.
#include <vector>

#include <benchmark/benchmark.h>

#include "epos/core/value.h"
#include "epos/lua/script.h"

namespace {

using epos::Value;
using epos::lua::Script;

// A guard evaluated on one payload, as the guards of a fan-out are: the payload's table is
// converted once and reused.
void BM_LuaGuardSamePayload(benchmark::State& state) {
  Script guard = Script::Expression("payload.n > 3", "bench.yaml", 1);
  Value payload = Value::Map({{"n", 5}, {"name", "x"}});
  for (auto _ : state) {
    auto r = guard.EvalCondition(payload);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LuaGuardSamePayload);

// A guard on a new small map each time: converts the payload on every evaluation. The
// payloads are built outside the timed loop.
void BM_LuaGuardNewPayload(benchmark::State& state) {
  Script guard = Script::Expression("payload.n > 3", "bench.yaml", 1);
  std::vector<Value> payloads;
  for (int i = 0; i < 1024; ++i) payloads.push_back(Value::Map({{"n", i}, {"name", "x"}}));
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = guard.EvalCondition(payloads[i++ & 1023]);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LuaGuardNewPayload);

// Payloads as a source emits them: 1024 distinct maps of six fields, one with a nested map,
// built outside the timed loop so each evaluation sees a payload body it has not seen just
// before.
std::vector<Value> FreshOrders() {
  std::vector<Value> payloads;
  payloads.reserve(1024);
  for (int i = 0; i < 1024; ++i) {
    payloads.push_back(Value::Map({{"id", i},
                                   {"n", i % 7},
                                   {"name", i % 2 == 0 ? "alice" : "bob"},
                                   {"price", 9.5 + i},
                                   {"tags", Value::Array({"a", "b"})},
                                   {"user", Value::Map({{"age", 10 + i % 20}, {"city", "x"}})}}));
  }
  return payloads;
}

void RunGuardOnFreshOrders(benchmark::State& state, const char* expression) {
  Script guard = Script::Expression(expression, "bench.yaml", 1);
  std::vector<Value> payloads = FreshOrders();
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = guard.EvalCondition(payloads[i++ & 1023]);
    benchmark::DoNotOptimize(r);
  }
}

// `payload.n > 3` on a fresh six-field map (the ≤ 100 ns target).
void BM_LuaGuardFreshMap(benchmark::State& state) { RunGuardOnFreshOrders(state, "payload.n > 3"); }
BENCHMARK(BM_LuaGuardFreshMap);

// A nested field of a fresh map.
void BM_LuaGuardFreshNested(benchmark::State& state) {
  RunGuardOnFreshOrders(state, "payload.user.age > 18");
}
BENCHMARK(BM_LuaGuardFreshNested);

// A string field of a fresh map compared with a constant.
void BM_LuaGuardFreshStringField(benchmark::State& state) {
  RunGuardOnFreshOrders(state, "payload.name == 'alice'");
}
BENCHMARK(BM_LuaGuardFreshStringField);

// An `if` over two fields of a fresh map.
void BM_LuaGuardFreshTwoFields(benchmark::State& state) {
  RunGuardOnFreshOrders(state, "payload.n > 3 and payload.price < 500");
}
BENCHMARK(BM_LuaGuardFreshTwoFields);

// A guard on an integer payload: no conversion at all, the floor of a guard's cost.
void BM_LuaGuardScalar(benchmark::State& state) {
  Script guard = Script::Expression("payload > 3", "bench.yaml", 1);
  Value payload(5);
  for (auto _ : state) {
    auto r = guard.EvalCondition(payload);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LuaGuardScalar);

// A guard on a string payload: the protected (trampoline) path with a one-string conversion.
void BM_LuaGuardString(benchmark::State& state) {
  Script guard = Script::Expression("payload == 'x'", "bench.yaml", 1);
  Value payload("x");
  for (auto _ : state) {
    auto r = guard.EvalCondition(payload);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LuaGuardString);

// The snippet of `epos bench --topology lua-chain`: payload + 1 on an integer.
void BM_LuaSnippetIncrement(benchmark::State& state) {
  Script snippet = Script::Snippet("return function(p) return p + 1 end", "bench.yaml", 1);
  Value payload(41);
  for (auto _ : state) {
    auto r = snippet.CallSnippet(payload);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LuaSnippetIncrement);

// A snippet that reads a map and returns a new one: both conversions.
void BM_LuaSnippetMapInMapOut(benchmark::State& state) {
  Script snippet = Script::Snippet("return function(p) return {n = p.n + 1, name = p.name} end",
                                   "bench.yaml", 1);
  Value payload = Value::Map({{"n", 5}, {"name", "x"}});
  for (auto _ : state) {
    auto r = snippet.CallSnippet(payload);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LuaSnippetMapInMapOut);

// ctx.emit on two ports.
void BM_LuaSnippetEmit(benchmark::State& state) {
  Script snippet = Script::Snippet(
      "return function(p, ctx) ctx.emit('out', p) ctx.emit(1, p + 1) end", "bench.yaml", 1);
  Value payload(1);
  for (auto _ : state) {
    auto r = snippet.CallSnippet(payload);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LuaSnippetEmit);

}  // namespace
