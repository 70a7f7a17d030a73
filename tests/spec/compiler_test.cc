#include "epos/spec/compiler.h"

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/exec/context.h"
#include "epos/exec/runtime.h"
#include "epos/nodes/control.h"
#include "epos/nodes/standard.h"
#include "epos/spec/loader.h"

namespace epos {
namespace {

struct Compiled {
  CompileOutput out;
  std::string errors;  // one diagnostic per line
};

Compiled CompileText(std::string_view text) {
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(text, "flow.yaml", diags);
  TemplateBindings bindings;
  for (Spec& spec : specs) ExpandTemplates(spec, bindings, diags);
  Compiled c;
  static const Scheme scheme = StandardScheme();
  c.out = Compile(specs, scheme, diags);
  c.errors = diags.ToString();
  return c;
}

Outcome CallNode(const std::shared_ptr<const Graph>& graph, std::string_view node, Value payload) {
  Runtime runtime(RuntimeOptions{.workers = 2});
  runtime.Start();
  Outcome outcome = runtime.Call(graph, graph->Find(node), 0, std::move(payload)).get();
  runtime.Stop();
  return outcome;
}

TEST(CompilerTest, CompilesAWorkflowThatRuns) {
  Compiled c = CompileText(R"(
- kind: snippet
  name: double
  code: |
    return function(payload, ctx) return payload.n * 2 end
  ports:
    out:
      - name: big
        when: "payload > 10"
      - name: small
        when: "payload <= 10"
- kind: snippet
  name: big
  language: text
  code: big
- kind: snippet
  name: small
  language: json
  code: '{"size": "small"}'
)");
  ASSERT_EQ(c.errors, "");
  ASSERT_EQ(c.out.graphs.count("default"), 1u);
  const auto& graph = c.out.graphs.at("default");
  EXPECT_EQ(graph->node_count(), 3u);
  Outcome big = CallNode(graph, "double", Value::Map({{"n", 6}}));
  ASSERT_EQ(big.kind, Outcome::Kind::kReply);
  EXPECT_EQ(big.value, Value("big"));
  Outcome small = CallNode(graph, "double", Value::Map({{"n", 2}}));
  ASSERT_EQ(small.kind, Outcome::Kind::kReply);
  EXPECT_EQ(ToJson(small.value), R"({"size":"small"})");
}

TEST(CompilerTest, UnknownKindSuggestsTheClosest) {
  Compiled c = CompileText(R"(
- kind: snipet
  name: a
  code: x
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:2:9: spec \"a\": field \"kind\": unknown kind \"snipet\"; did you mean "
            "\"snippet\"?");
  EXPECT_TRUE(c.out.graphs.empty());
  EXPECT_EQ(c.out.failed.count("default"), 1u);
}

TEST(CompilerTest, UnknownTargetSuggestsTheClosest) {
  Compiled c = CompileText(R"(
- kind: nop
  name: start
  ports:
    out:
      - name: finsh
- kind: reply
  name: finish
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:6:15: spec \"start\": field \"ports.out.0.name\": target \"finsh\" not "
            "found in namespace \"default\"; did you mean \"finish\"?");
}

TEST(CompilerTest, PortsTheKindsDoNotHave) {
  Compiled c = CompileText(R"(
- kind: reply
  name: r
  ports:
    out:
      - name: n
- kind: split
  name: n
  ports:
    out[1]:
      - name: r
    error:
      - name: r
        port: in[1]
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:5:5: spec \"r\": field \"ports.out\": kind \"reply\" has no output port "
            "\"out\" (it has none)\n"
            "flow.yaml:10:5: spec \"n\": field \"ports.out[1]\": kind \"split\" has no output port "
            "\"out[1]\" (it has out, error)\n"
            "flow.yaml:14:15: spec \"n\": field \"ports.error.0.port\": kind \"reply\" (node "
            "\"r\") has no input port \"in[1]\" (it has in)");
}

TEST(CompilerTest, DuplicateNameNamesTheFirst) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
- kind: reply
  name: a
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:5:9: spec \"a\": field \"name\": duplicate name \"a\" in namespace "
            "\"default\" (first defined at flow.yaml:2:3)");
}

TEST(CompilerTest, SameNameInTwoNamespacesIsFine) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
- kind: nop
  name: a
  namespace: other
)");
  EXPECT_EQ(c.errors, "");
  EXPECT_EQ(c.out.graphs.size(), 2u);
}

TEST(CompilerTest, ErrorsInOneNamespaceLeaveTheOtherActive) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
- kind: nop
  name: a
  namespace: broken
  ports:
    out:
      - name: nowhere
)");
  EXPECT_NE(c.errors, "");
  EXPECT_EQ(c.out.graphs.count("default"), 1u);
  EXPECT_EQ(c.out.failed.count("broken"), 1u);
  EXPECT_EQ(c.out.graphs.count("broken"), 0u);
}

TEST(CompilerTest, BadLuaNamesFileAndLine) {
  Compiled c = CompileText(R"(
- kind: snippet
  name: s
  code: |
    return function(payload, ctx)
      return payload +
    end
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:5:5: spec \"s\": field \"code\": flow.yaml:7: unexpected symbol near 'end'");
}

TEST(CompilerTest, BadGuardIsReportedAtItsField) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
  ports:
    out:
      - name: b
        when: "payload.n >"
- kind: nop
  name: b
)");
  EXPECT_NE(c.errors.find("flow.yaml:7:15: spec \"a\": field \"ports.out.0.when\": flow.yaml:7:"),
            std::string::npos)
      << c.errors;
}

TEST(CompilerTest, WrongFieldTypesAndUnknownFields) {
  Compiled c = CompileText(R"(
- kind: sleep
  name: nap
  duration: [1]
- kind: if
  name: check
  wehn: "payload"
- kind: snippet
  name: lang
  language: python
  code: x
- kind: switch
  name: sw
  matches:
    - when: "payload == 1"
      port: 7x
)");
  EXPECT_EQ(
      c.errors,
      "flow.yaml:4:13: spec \"nap\": field \"duration\": must be a duration such as \"250ms\", "
      "not a list\n"
      "flow.yaml:7:3: spec \"check\": field \"wehn\": unknown field \"wehn\"; did you mean "
      "\"when\"?\n"
      "flow.yaml:5:3: spec \"check\": field \"when\": required\n"
      "flow.yaml:10:13: spec \"lang\": field \"language\": unknown language \"python\" (expected "
      "one of: lua, text, json, yaml)\n"
      "flow.yaml:16:13: spec \"sw\": field \"matches.0.port\": invalid port \"7x\": expected out "
      "or out[N]");
}

TEST(CompilerTest, EveryErrorAtOnce) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
  ports:
    out:
      - name: x
      - name: y
- kind: bogus
  name: b
)");
  EXPECT_EQ(std::count(c.errors.begin(), c.errors.end(), '\n') + 1, 3) << c.errors;
}

TEST(CompilerTest, DuplicateConnection) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
  ports:
    out:
      - name: b
      - name: b
- kind: nop
  name: b
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:7:9: spec \"a\": field \"ports.out.1\": duplicate connection out -> b.in");
}

TEST(CompilerTest, TargetsByIdResolve) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
  ports:
    out:
      - id: 0190c2a4-0000-7000-8000-000000000001
- kind: snippet
  id: 0190c2a4-0000-7000-8000-000000000001
  language: text
  code: by id
)");
  ASSERT_EQ(c.errors, "");
  Outcome o = CallNode(c.out.graphs.at("default"), "a", Value());
  ASSERT_EQ(o.kind, Outcome::Kind::kReply);
  EXPECT_EQ(o.value, Value("by id"));
}

TEST(SchemeTest, RegisterRejectsDuplicatesAndAliasesResolve) {
  Scheme scheme = StandardScheme();
  auto again = scheme.Register(
      {.name = "nop", .compile = [](SpecDecoder&) { return std::unique_ptr<Node>(); }});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "kind \"nop\" is already registered");
  ASSERT_TRUE(scheme.Alias("pass", "nop"));
  EXPECT_EQ(scheme.Find("pass"), scheme.Find("nop"));
  EXPECT_FALSE(scheme.Alias("x", "missing"));
}

TEST(SchemeTest, RegisteringTheStandardKindsReportsANameAlreadyTaken) {
  Scheme scheme;
  ASSERT_TRUE(scheme.Register(
      {.name = "http", .compile = [](SpecDecoder&) { return std::unique_ptr<Node>(); }}));
  Status status = RegisterStandardKinds(scheme);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "kind \"http\" is already registered");
  EXPECT_NE(scheme.Find("nop"), nullptr);  // the kinds before the collision are in
}

}  // namespace
}  // namespace epos

namespace epos {
namespace {

TEST(CompilerTest, OrderedIsAFieldOfEveryKind) {
  Compiled c = CompileText(R"(
- kind: nop
  name: a
  ordered: true
  ports:
    out:
      - name: b
- kind: snippet
  name: b
  ordered: false
  language: text
  code: hi
- kind: reply
  name: c
  ordered: "yes"
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:15:12: spec \"c\": field \"ordered\": must be true or false, not a string");
  Compiled ok = CompileText(R"(
- kind: nop
  name: a
  ordered: true
)");
  ASSERT_EQ(ok.errors, "");
  const Graph& g = *ok.out.graphs.at("default");
  EXPECT_TRUE(g.info(g.Find("a")).ordered);
}

}  // namespace
}  // namespace epos

namespace epos {
namespace {

std::string WriteFile(const std::string& name, std::string_view text) {
  std::string path = ::testing::TempDir() + name;
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

TEST(BuildWorkflowsTest, ReportsEveryProblemInEveryFile) {
  // A spec that does not load (bad port name) must not hide the other file's errors, and
  // connections to it are not reported again as unknown targets.
  std::string a = WriteFile("bw_a.yaml", R"(
- kind: nop
  name: a
  ports:
    outt:
      - name: b
)");
  std::string b = WriteFile("bw_b.yaml", R"(
- kind: snipet
  name: b
- kind: nop
  name: c
  ports:
    out:
      - name: a
)");
  Diagnostics diags;
  CompileOutput out = BuildWorkflows({.files = {a, b}, .values_files = {}, .overrides = {}},
                                     StandardScheme(), diags);
  ASSERT_EQ(diags.size(), 2u) << diags.ToString();
  EXPECT_NE(diags.items()[0].message.find("invalid output port \"outt\""), std::string::npos);
  EXPECT_NE(diags.items()[0].message.find("did you mean \"out\"?"), std::string::npos);
  EXPECT_EQ(diags.items()[1].message, "unknown kind \"snipet\"; did you mean \"snippet\"?");
  EXPECT_TRUE(out.graphs.empty());
  EXPECT_EQ(out.failed.count("default"), 1u);
}

TEST(BuildWorkflowsTest, ATemplateErrorFailsOnlyItsNamespace) {
  std::string f = WriteFile("bw_t.yaml", R"(
- kind: snippet
  name: greet
  language: text
  code: "{{ .MISSING }}"
- kind: nop
  name: fine
  namespace: other
)");
  Diagnostics diags;
  CompileOutput out =
      BuildWorkflows({.files = {f}, .values_files = {}, .overrides = {}}, StandardScheme(), diags);
  ASSERT_EQ(diags.size(), 1u) << diags.ToString();
  EXPECT_EQ(out.failed.count("default"), 1u);
  EXPECT_EQ(out.graphs.count("other"), 1u);
}

TEST(DiagnosticsTest, SortByPositionKeepsFileOrder) {
  Diagnostics d;
  d.Add(SourcePos{"b.yaml", 3, 1}, "", "", "b3");
  d.Add(SourcePos{"a.yaml", 9, 1}, "", "", "a9");
  d.Add(SourcePos{"b.yaml", 1, 5}, "", "", "b1");
  d.Add(SourcePos{"a.yaml", 2, 1}, "", "", "a2");
  d.Add(SourcePos{"b.yaml", 1, 5}, "", "", "b1 again");
  d.SortByPosition();
  std::vector<std::string> order;
  for (const Diagnostic& x : d.items()) order.push_back(x.message);
  EXPECT_EQ(order, (std::vector<std::string>{"b1", "b1 again", "b3", "a2", "a9"}));
}

}  // namespace
}  // namespace epos

namespace epos {
namespace {

// A resource kind and a node kind that uses it, as sql.pool and sql will.
struct Greeting final : Resource {
  std::string text;
};

Scheme SchemeWithResources() {
  Scheme scheme = StandardScheme();
  EXPECT_TRUE(scheme.Register({.name = "test.greeting",
                               .summary = "a shared greeting",
                               .fields = {"text"},
                               .compile = {},
                               .make_resource = [](SpecDecoder& d) -> std::shared_ptr<Resource> {
                                 auto text = d.String("text");
                                 if (!text) return nullptr;
                                 auto g = std::make_shared<Greeting>();
                                 g->text = *text;
                                 return g;
                               }}));
  EXPECT_TRUE(scheme.Register(
      {.name = "test.greet",
       .summary = "replies with the greeting",
       .fields = {"greeting"},
       .compile = [](SpecDecoder& d) -> std::unique_ptr<Node> {
         std::shared_ptr<Greeting> g = d.Resource<Greeting>("greeting", {"test.greeting"});
         if (!g) return nullptr;
         return MakeFunctionNode([g](Context& ctx, PortIndex, Value payload) {
           ctx.Emit(0, Value(g->text + " " + std::string(payload.AsString())));
         });
       }}));
  return scheme;
}

Compiled CompileWith(const Scheme& scheme, std::string_view text) {
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(text, "flow.yaml", diags);
  Compiled c;
  c.out = Compile(specs, scheme, diags);
  c.errors = diags.ToString();
  return c;
}

TEST(CompilerResourceTest, NodesFindResourcesByName) {
  Scheme scheme = SchemeWithResources();
  Compiled c = CompileWith(scheme, R"(
- kind: test.greet
  name: hi
  greeting: words
- kind: test.greeting
  name: words
  text: hello
)");
  ASSERT_EQ(c.errors, "");
  const auto& graph = c.out.graphs.at("default");
  EXPECT_EQ(graph->node_count(), 1u);  // a resource is not a node
  Outcome o = CallNode(graph, "hi", Value("ada"));
  ASSERT_EQ(o.kind, Outcome::Kind::kReply);
  EXPECT_EQ(o.value, Value("hello ada"));
}

TEST(CompilerResourceTest, ResourceErrors) {
  Scheme scheme = SchemeWithResources();
  Compiled c = CompileWith(scheme, R"(
- kind: test.greet
  name: a
  greeting: wrds
- kind: test.greet
  name: b
  greeting: c
- kind: nop
  name: c
  ports:
    out:
      - name: words
- kind: test.greeting
  name: words
  text: hello
  ports:
    out:
      - name: c
)");
  EXPECT_EQ(c.errors,
            "flow.yaml:16:3: spec \"words\": field \"ports\": a resource (kind \"test.greeting\") "
            "has no ports\n"
            "flow.yaml:4:13: spec \"a\": field \"greeting\": no resource \"wrds\" in namespace "
            "\"default\" (a spec of kind \"test.greeting\"); did you mean \"words\"?\n"
            "flow.yaml:7:13: spec \"b\": field \"greeting\": no resource \"c\" in namespace "
            "\"default\" (a spec of kind \"test.greeting\")\n"
            "flow.yaml:12:15: spec \"c\": field \"ports.out.0.name\": target \"words\" is a "
            "resource (kind \"test.greeting\"), not a node");
}

TEST(CompilerResourceTest, AKindIsANodeOrAResource) {
  Scheme scheme;
  auto neither = scheme.Register({.name = "x", .summary = "", .fields = {}});
  ASSERT_FALSE(neither);
  EXPECT_EQ(neither.error().message,
            "kind \"x\" needs exactly one of a compile function and a resource function");
}

}  // namespace
}  // namespace epos
