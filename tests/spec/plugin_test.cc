#include "epos/spec/plugin.h"

#include <dlfcn.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/exec/runtime.h"
#include "epos/nodes/standard.h"
#include "epos/spec/compiler.h"
#include "epos/spec/loader.h"

namespace epos {
namespace {

// `text` contains `part` (gtest without gmock).
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

struct Compiled {
  CompileOutput out;
  std::string errors;  // one diagnostic per line
};

Compiled CompileText(const Scheme& scheme, std::string_view text) {
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(text, "flow.yaml", diags);
  TemplateBindings bindings;
  for (Spec& spec : specs) ExpandTemplates(spec, bindings, diags);
  Compiled c;
  c.out = Compile(specs, scheme, diags);
  c.errors = diags.ToString();
  return c;
}

// The standard kinds plus the sample plugin's.
Scheme SchemeWithSample() {
  Scheme scheme = StandardScheme();
  Status s = LoadPlugin(scheme, EPOS_SAMPLE_PLUGIN_PATH);
  EXPECT_TRUE(s) << s.error().message;
  return scheme;
}

Outcome CallNode(const std::shared_ptr<const Graph>& graph, std::string_view node, Value payload,
                 unsigned workers = 2) {
  Runtime runtime(RuntimeOptions{.workers = workers});
  runtime.Start();
  Outcome outcome = runtime.Call(graph, graph->Find(node), 0, std::move(payload)).get();
  runtime.Stop();
  return outcome;
}

constexpr std::string_view kUpperFlow = R"(
- kind: sample.upper
  name: shout
  suffix: "!"
  ports:
    out:
      - name: answer
- kind: reply
  name: answer
)";

TEST(PluginTest, RegistersItsKind) {
  Scheme scheme = SchemeWithSample();
  const NodeKind* kind = scheme.Find("sample.upper");
  ASSERT_NE(kind, nullptr);
  EXPECT_EQ(kind->fields, std::vector<std::string>{"suffix"});
  EXPECT_NE(scheme.Find("reply"), nullptr);  // the standard kinds are still there
}

TEST(PluginTest, PluginKindRunsInATrace) {
  Scheme scheme = SchemeWithSample();
  Compiled c = CompileText(scheme, kUpperFlow);
  ASSERT_EQ(c.errors, "");
  const auto& graph = c.out.graphs.at("default");
  for (unsigned workers : {1u, 2u, 4u}) {
    Outcome outcome = CallNode(graph, "shout", Value("hello"), workers);
    ASSERT_EQ(outcome.kind, Outcome::Kind::kReply) << workers;
    EXPECT_EQ(outcome.value, Value("HELLO!")) << workers;
  }
}

TEST(PluginTest, SuffixIsOptional) {
  Scheme scheme = SchemeWithSample();
  Compiled c = CompileText(scheme, R"(
- kind: sample.upper
  name: shout
)");
  ASSERT_EQ(c.errors, "");
  Outcome outcome = CallNode(c.out.graphs.at("default"), "shout", Value("quiet"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kReply);  // a leaf `out` answers
  EXPECT_EQ(outcome.value, Value("QUIET"));
}

TEST(PluginTest, NonStringPayloadFailsTheNode) {
  Scheme scheme = SchemeWithSample();
  Compiled c = CompileText(scheme, kUpperFlow);
  ASSERT_EQ(c.errors, "");
  Outcome outcome = CallNode(c.out.graphs.at("default"), "shout", Value(42));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kError);
  EXPECT_EQ(outcome.value["error"], Value("sample.upper expects a string, got int"));
  EXPECT_EQ(outcome.value["node"], Value("shout"));
  EXPECT_EQ(outcome.value["kind"], Value("sample.upper"));
}

TEST(PluginTest, NodeErrorGoesToTheErrorPort) {
  Scheme scheme = SchemeWithSample();
  Compiled c = CompileText(scheme, R"(
- kind: sample.upper
  name: shout
  ports:
    error:
      - name: oops
- kind: snippet
  name: oops
  code: |
    return function(payload) return "handled: " .. payload.error end
)");
  ASSERT_EQ(c.errors, "");
  Outcome outcome = CallNode(c.out.graphs.at("default"), "shout", Value::Array({1, 2}));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kReply);
  EXPECT_EQ(outcome.value, Value("handled: sample.upper expects a string, got array"));
}

TEST(PluginTest, UnknownFieldSuggestsTheClosest) {
  Scheme scheme = SchemeWithSample();
  Compiled c = CompileText(scheme, R"(
- kind: sample.upper
  name: shout
  sufix: "!"
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:4:3: spec \"shout\": field \"sufix\": unknown field \"sufix\"; did you "
            "mean \"suffix\"?");
  EXPECT_TRUE(c.out.failed.count("default"));
}

TEST(PluginTest, WrongFieldTypeIsReported) {
  Scheme scheme = SchemeWithSample();
  Compiled c = CompileText(scheme, R"(
- kind: sample.upper
  name: shout
  suffix: [1]
)");
  EXPECT_TRUE(Contains(c.errors, "field \"suffix\": must be a string, not a list"));
}

TEST(PluginTest, MisspelledPluginKindSuggestsIt) {
  Scheme scheme = SchemeWithSample();
  Compiled c = CompileText(scheme, R"(
- kind: sample.uper
  name: shout
)");
  EXPECT_TRUE(Contains(c.errors, "unknown kind \"sample.uper\"; did you mean \"sample.upper\"?"));
}

TEST(PluginTest, LoadsIntoSeveralSchemes) {
  Scheme a = SchemeWithSample();
  Scheme b = SchemeWithSample();  // dlopen hands back the loaded copy
  EXPECT_NE(a.Find("sample.upper"), nullptr);
  EXPECT_NE(b.Find("sample.upper"), nullptr);
}

TEST(PluginErrorTest, LoadingTwiceIntoOneSchemeIsACollision) {
  Scheme scheme = SchemeWithSample();
  Status s = LoadPlugin(scheme, EPOS_SAMPLE_PLUGIN_PATH);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message, std::string("plugin \"") + EPOS_SAMPLE_PLUGIN_PATH +
                                   "\": register: kind \"sample.upper\" is already registered");
}

TEST(PluginErrorTest, KindNameTakenByTheHostIsACollision) {
  Scheme scheme = StandardScheme();
  ASSERT_TRUE(scheme.Register({.name = "sample.upper",
                               .summary = "the host's own",
                               .compile = [](SpecDecoder&) { return std::unique_ptr<Node>(); }}));
  Status s = LoadPlugin(scheme, EPOS_SAMPLE_PLUGIN_PATH);
  ASSERT_FALSE(s);
  EXPECT_TRUE(Contains(s.error().message, EPOS_SAMPLE_PLUGIN_PATH));
  EXPECT_TRUE(Contains(s.error().message, "kind \"sample.upper\" is already registered"));
  EXPECT_EQ(scheme.Find("sample.upper")->summary, "the host's own");
}

TEST(PluginErrorTest, MissingFileIsNotFound) {
  Scheme scheme = StandardScheme();
  Status s = LoadPlugin(scheme, "/nonexistent/dir/libnothing.so");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s.error().message, "plugin \"/nonexistent/dir/libnothing.so\": no such file");
}

TEST(PluginErrorTest, BareNameIsAFileNotALibrarySearch) {
  Scheme scheme = StandardScheme();
  Status s = LoadPlugin(scheme, "libm.so.6");  // on the library path, not in the cwd
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s.error().message, "plugin \"libm.so.6\": no such file");
}

TEST(PluginErrorTest, FileThatIsNotALibraryCannotBeOpened) {
  std::string path = ::testing::TempDir() + "epos_plugin_test_not_elf.so";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("not an ELF file\n", f);
  std::fclose(f);
  Scheme scheme = StandardScheme();
  Status s = LoadPlugin(scheme, path);
  std::remove(path.c_str());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.error().message, "plugin \"" + path + "\": cannot open: "));
  EXPECT_TRUE(Contains(s.error().message, path));  // dlerror names it too
}

TEST(PluginErrorTest, SharedLibraryWithoutEntryPointIsNotAPlugin) {
  // libm's own path, wherever this system keeps it.
  Dl_info info{};
  double (*cos_fn)(double) = &::cos;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(cos_fn), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  std::string libm = info.dli_fname;
  ASSERT_TRUE(Contains(libm, "libm"));
  Scheme scheme = StandardScheme();
  std::size_t kinds = scheme.names().size();
  Status s = LoadPlugin(scheme, libm);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message, "plugin \"" + libm +
                                   "\": not an EPOS plugin (it has no epos_plugin_abi_version; a "
                                   "plugin declares itself with EPOS_PLUGIN)");
  EXPECT_EQ(scheme.names().size(), kinds);
}

TEST(PluginErrorTest, AbiMismatchAsksForARebuild) {
  Scheme scheme = StandardScheme();
  Status s = LoadPlugin(scheme, EPOS_BAD_ABI_PLUGIN_PATH);  // its register function traps
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message, std::string("plugin \"") + EPOS_BAD_ABI_PLUGIN_PATH +
                                   "\": built for plugin ABI 999, this epos has 1; rebuild it "
                                   "against this epos");
}

TEST(PluginErrorTest, ThrowingRegisterIsReportedAndLeavesTheSchemeUnchanged) {
  Scheme scheme = StandardScheme();
  std::vector<std::string> before = scheme.names();
  Status s = LoadPlugin(scheme, EPOS_FAILING_PLUGIN_PATH);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.error().message, std::string("plugin \"") + EPOS_FAILING_PLUGIN_PATH +
                                   "\": register: exception: failing plugin gave up");
  EXPECT_EQ(scheme.names(), before);  // "failing.first" was staged, not kept
  EXPECT_EQ(scheme.Find("failing.first"), nullptr);
}

// The body of EPOS_PLUGIN's register entry point, directly.
TEST(PluginRegisterTest, ErrorStatusBecomesTheMessage) {
  Scheme scheme;
  char error[64];
  int rc = internal::RunPluginRegister(
      [](Scheme&) -> Status { return MakeError(ErrorCode::kInvalidArgument, "no licence"); },
      &scheme, error, sizeof error);
  EXPECT_EQ(rc, 1);
  EXPECT_STREQ(error, "no licence");
}

TEST(PluginRegisterTest, LongMessagesAreTruncatedAndTerminated) {
  Scheme scheme;
  char error[8];
  int rc = internal::RunPluginRegister(
      [](Scheme&) -> Status { throw std::logic_error("a very long message"); }, &scheme, error,
      sizeof error);
  EXPECT_EQ(rc, 1);
  EXPECT_STREQ(error, "excepti");
  rc = internal::RunPluginRegister([](Scheme&) -> Status { throw 42; }, &scheme, nullptr, 0);
  EXPECT_EQ(rc, 1);
}

TEST(PluginRegisterTest, SuccessReturnsZero) {
  Scheme scheme;
  char error[8] = "x";
  EXPECT_EQ(internal::RunPluginRegister([](Scheme&) -> Status { return {}; }, &scheme, error,
                                        sizeof error),
            0);
}

}  // namespace
}  // namespace epos
