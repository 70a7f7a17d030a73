#include "epos/spec/loader.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"

namespace epos {
namespace {

// The diagnostics of loading `text` as `file`, one per line; "" when it loads.
std::string LoadErrors(std::string_view text, std::string_view file = "f.yaml") {
  auto specs = LoadSpecText(text, file);
  if (specs) return "";
  EXPECT_EQ(specs.error().code, ErrorCode::kInvalidArgument);
  return specs.error().message;
}

std::vector<Spec> MustLoad(std::string_view text, std::string_view file = "f.yaml") {
  auto specs = LoadSpecText(text, file);
  EXPECT_TRUE(specs.has_value()) << specs.error().message;
  return specs ? std::move(*specs) : std::vector<Spec>{};
}

}  // namespace

void PrintTo(const SourcePos& pos, std::ostream* os) { *os << pos.ToString(); }

namespace {

SourcePos Pos(int line, int column, std::string file = "f.yaml") {
  return SourcePos{std::move(file), line, column};
}

constexpr std::string_view kUniflowPing = R"(- kind: listener
  name: listener
  protocol: http
  port: 8000
  ports:
    out:
      - name: router
        port: in

- kind: router
  name: router
  routes:
    - method: GET
      path: /ping
      port: out[0]
  ports:
    out[0]:
      - name: pong
        port: in

- kind: snippet
  name: pong
  language: text
  code: pong
)";

TEST(LoaderTest, LoadsUniflowPingExample) {
  std::vector<Spec> specs = MustLoad(kUniflowPing, "ping.yaml");
  ASSERT_EQ(specs.size(), 3u);

  const Spec& listener = specs[0];
  EXPECT_EQ(listener.kind, "listener");
  EXPECT_EQ(listener.name, "listener");
  EXPECT_EQ(listener.name_space, "default");
  EXPECT_FALSE(listener.id.has_value());
  EXPECT_EQ(listener.pos, Pos(1, 3, "ping.yaml"));
  EXPECT_EQ(listener.kind_pos, Pos(1, 9, "ping.yaml"));
  EXPECT_EQ(listener.name_pos, Pos(2, 9, "ping.yaml"));
  EXPECT_EQ(ToJson(listener.fields), R"({"protocol":"http","port":8000})");
  ASSERT_EQ(listener.ports.size(), 1u);
  EXPECT_EQ(listener.ports[0].port, "out");
  EXPECT_EQ(listener.ports[0].pos, Pos(6, 5, "ping.yaml"));
  ASSERT_EQ(listener.ports[0].targets.size(), 1u);
  EXPECT_EQ(listener.ports[0].targets[0].name, "router");
  EXPECT_EQ(listener.ports[0].targets[0].port, "in");
  EXPECT_FALSE(listener.ports[0].targets[0].when.has_value());
  EXPECT_EQ(listener.ports[0].targets[0].pos, Pos(7, 9, "ping.yaml"));

  const Spec& router = specs[1];
  EXPECT_EQ(router.kind, "router");
  EXPECT_EQ(ToJson(router.fields),
            R"({"routes":[{"method":"GET","path":"/ping","port":"out[0]"}]})");
  EXPECT_EQ(router.PosOf("routes.0.path"), Pos(14, 13, "ping.yaml"));
  EXPECT_EQ(router.PosOf("routes.0"), Pos(13, 7, "ping.yaml"));
  EXPECT_EQ(router.PosOf("routes.0.path.nothing"), Pos(14, 13, "ping.yaml"));
  EXPECT_EQ(router.PosOf("nothing"), router.pos);
  ASSERT_EQ(router.ports.size(), 1u);
  EXPECT_EQ(router.ports[0].port, "out[0]");
  EXPECT_EQ(router.ports[0].targets[0].name, "pong");

  const Spec& pong = specs[2];
  EXPECT_EQ(pong.kind, "snippet");
  EXPECT_EQ(pong.name, "pong");
  EXPECT_TRUE(pong.ports.empty());
  EXPECT_EQ(ToJson(pong.fields), R"({"language":"text","code":"pong"})");
  EXPECT_EQ(pong.PosOf("code"), Pos(24, 9, "ping.yaml"));
}

TEST(LoaderTest, ReadsCommonFields) {
  std::vector<Spec> specs = MustLoad(R"(
- kind: snippet
  name: greet
  namespace: shop
  id: 0190C2A4-7b1e-7cc3-98d4-1c2a3b4c5d6e
  annotations: {team: web, rev: 3, empty: }
  env:
    GREETING: {data: hello}
    PORT: {data: 8080}
    CONF: {data: {a: [1, x]}}
    TOKEN: {name: api-token}
  ports:
    out:
      - name: next
        when: "payload.n > 3"
      - id: 0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6f
        port: in[2]
    error:
      - name: oops
    out[1]:
  language: lua
  code: |
    return function(payload, ctx)
      return payload
    end
)");
  ASSERT_EQ(specs.size(), 1u);
  const Spec& s = specs[0];
  EXPECT_EQ(s.name_space, "shop");
  EXPECT_EQ(s.id, "0190C2A4-7b1e-7cc3-98d4-1c2a3b4c5d6e");
  EXPECT_EQ(s.Label(), "greet");
  EXPECT_EQ(s.annotations,
            (std::map<std::string, std::string>{{"team", "web"}, {"rev", "3"}, {"empty", ""}}));
  ASSERT_EQ(s.env.size(), 4u);
  EXPECT_EQ(s.env.at("GREETING").data, "hello");
  EXPECT_FALSE(s.env.at("GREETING").value_name.has_value());
  EXPECT_EQ(s.env.at("GREETING").pos, Pos(8, 15));
  EXPECT_EQ(s.env.at("PORT").data, "8080");
  EXPECT_EQ(s.env.at("CONF").data, R"({"a":[1,"x"]})");
  EXPECT_EQ(s.env.at("TOKEN").value_name, "api-token");
  EXPECT_FALSE(s.env.at("TOKEN").data.has_value());
  EXPECT_EQ(s.PosOf("env.TOKEN.name"), Pos(11, 19));

  ASSERT_EQ(s.ports.size(), 3u);
  EXPECT_EQ(s.ports[0].port, "out");
  ASSERT_EQ(s.ports[0].targets.size(), 2u);
  EXPECT_EQ(s.ports[0].targets[0].when, "payload.n > 3");
  EXPECT_EQ(s.PosOf("ports.out.0.when"), Pos(15, 15));
  EXPECT_EQ(s.ports[0].targets[1].name, "");
  EXPECT_EQ(s.ports[0].targets[1].id, "0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6f");
  EXPECT_EQ(s.ports[0].targets[1].port, "in[2]");
  EXPECT_EQ(s.ports[1].port, "error");
  EXPECT_EQ(s.ports[2].port, "out[1]");
  EXPECT_TRUE(s.ports[2].targets.empty());

  EXPECT_EQ(s.fields["language"], Value("lua"));
  EXPECT_EQ(s.fields["code"], Value("return function(payload, ctx)\n  return payload\nend\n"));
  // A literal block's position is its first content line.
  EXPECT_EQ(s.PosOf("code"), Pos(23, 5));
}

TEST(LoaderTest, IdAloneIsEnough) {
  std::vector<Spec> specs = MustLoad("kind: nop\nid: 0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6e\n");
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].name, "");
  EXPECT_EQ(specs[0].Label(), "0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6e");
}

TEST(LoaderTest, ReadsMultiDocumentStreams) {
  std::vector<Spec> specs = MustLoad(R"(---
kind: nop
name: a
---
- kind: nop
  name: b
- kind: nop
  name: c
---
...
---
kind: nop
name: d
)");
  ASSERT_EQ(specs.size(), 4u);
  EXPECT_EQ(specs[0].name, "a");
  EXPECT_EQ(specs[0].pos, Pos(2, 1));
  EXPECT_EQ(specs[1].name, "b");
  EXPECT_EQ(specs[2].name, "c");
  EXPECT_EQ(specs[2].pos, Pos(7, 3));
  EXPECT_EQ(specs[3].name, "d");
  EXPECT_EQ(specs[3].pos, Pos(12, 1));
}

TEST(LoaderTest, EmptyInputHasNoSpecs) {
  EXPECT_TRUE(MustLoad("").empty());
  EXPECT_TRUE(MustLoad("# only a comment\n").empty());
  EXPECT_TRUE(MustLoad("---\n---\n").empty());
}

TEST(LoaderTest, ReadsJsonObjectAndArray) {
  std::vector<Spec> one = MustLoad(
      "{\n\t\"kind\": \"snippet\",\n\t\"name\": \"pong\",\n\t\"language\": \"text\",\n"
      "\t\"code\": \"pong\", \"n\": 1.5, \"ok\": true, \"none\": null, \"s\": \"a\\/b\\u00e9\"\n}",
      "pong.json");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].kind, "snippet");
  EXPECT_EQ(one[0].pos, Pos(1, 1, "pong.json"));
  EXPECT_EQ(one[0].kind_pos, Pos(2, 10, "pong.json"));
  EXPECT_EQ(ToJson(one[0].fields),
            R"({"language":"text","code":"pong","n":1.5,"ok":true,"none":null,"s":"a/bé"})");
  EXPECT_EQ(one[0].PosOf("none"), Pos(5, 48, "pong.json"));

  std::vector<Spec> two =
      MustLoad(R"([{"kind":"nop","name":"a","ports":{"out":[{"name":"b","when":"payload > 1"}]}},)"
               "\n"
               R"( {"kind":"nop","name":"b","n":"1"}])",
               "two.json");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].ports[0].targets[0].when, "payload > 1");
  EXPECT_EQ(two[1].pos, Pos(2, 2, "two.json"));
  EXPECT_EQ(two[1].fields["n"], Value("1"));  // quoted: a string
}

TEST(LoaderTest, ResolvesScalarsByCoreSchema) {
  auto v = ParseYamlValue(R"(
nulls: [null, Null, NULL, ~, !!null ""]
bools: [true, True, TRUE, false, False, FALSE]
ints: [0, 12, -3, +4, 0777, 0o17, 0x1F, 9223372036854775807, -9223372036854775808]
floats: [1.5, -2.5e3, 1e3, .5, 5., +.25, 1E-2]
big: 99999999999999999999
strings: [yes, no, on, 1_000, 0x, 0o8, 1.2.3, "12", 'true', "null", abc, 0xFFFFFFFFFFFFFFFFF]
empty_quoted: ""
tagged: [!!str 12, !!float 3, !!int "7", !!bool "true", !!null ""]
block: |
  line
folded: >
  a
  b
)");
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(ToJson((*v)["nulls"]), "[null,null,null,null,null]");
  EXPECT_EQ(ToJson((*v)["bools"]), "[true,true,true,false,false,false]");
  EXPECT_EQ(ToJson((*v)["ints"]), "[0,12,-3,4,777,15,31,9223372036854775807,-9223372036854775808]");
  EXPECT_EQ(ToJson((*v)["floats"]), "[1.5,-2500.0,1000.0,0.5,5.0,0.25,0.01]");
  EXPECT_TRUE((*v)["big"].IsDouble());
  EXPECT_EQ((*v)["big"].AsDouble(), 1e20);
  EXPECT_EQ(ToJson((*v)["strings"]),
            R"(["yes","no","on","1_000","0x","0o8","1.2.3","12","true","null","abc",)"
            R"("0xFFFFFFFFFFFFFFFFF"])");
  EXPECT_EQ((*v)["empty_quoted"], Value(""));
  EXPECT_EQ(ToJson((*v)["tagged"]), R"(["12",3.0,7,true,null])");
  EXPECT_EQ((*v)["block"], Value("line\n"));
  EXPECT_EQ((*v)["folded"], Value("a b\n"));
}

TEST(LoaderTest, ResolvesSpecialFloats) {
  auto v = ParseYamlValue("[.inf, -.Inf, +.INF, .nan, .NaN]");
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(v->At(0).AsDouble(), INFINITY);
  EXPECT_EQ(v->At(1).AsDouble(), -INFINITY);
  EXPECT_EQ(v->At(2).AsDouble(), INFINITY);
  EXPECT_TRUE(std::isnan(v->At(3).AsDouble()));
  EXPECT_TRUE(std::isnan(v->At(4).AsDouble()));
}

TEST(LoaderTest, ParseYamlValueErrors) {
  auto empty = ParseYamlValue("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->IsNull());

  auto two = ParseYamlValue("a\n---\nb\n", "s.yaml");
  ASSERT_FALSE(two.has_value());
  EXPECT_EQ(two.error().message, "s.yaml:3:1: expected one document, found 2");

  auto tag = ParseYamlValue("a: !!int abc\nb: !custom x\nc: !!float [1]\n", "s.yaml");
  ASSERT_FALSE(tag.has_value());
  EXPECT_EQ(tag.error().message,
            "s.yaml:1:4: field \"a\": \"abc\" is not a valid !!int\n"
            "s.yaml:2:4: field \"b\": unsupported tag \"!custom\"\n"
            "s.yaml:3:4: field \"c\": unsupported tag \"tag:yaml.org,2002:float\"");
}

TEST(LoaderTest, ReportsEveryStructuralErrorAtOnce) {
  constexpr std::string_view kText = R"(- name: pricing
  code: x
- kind: snippet
  name: bad name
- kind: [a]
  name: n1
  namespace: "a/b"
  id: 1234
- kind: snippet
  name: n2
  annotations: [x]
  env:
    1X: {data: a}
    GOOD: hello
    BOTH: {data: a, name: v}
    NONE: {foo: 1}
  ports:
    outt:
      - name: a
    out:
      - port: in[x]
        wen: "x"
      - hello
    out[0]: []
    error: {name: x}
- kind: snippet
- kind: nop
  name: n3
  name: n4
  env: [1]
  ports: [out]
- kind:
  name: n5
  ports:
    out:
      - {name: "x y", id: nope, when: [1]}
- kind: nop
  name: n6
  annotations: {a: [1]}
  ports:
    error[1]: []
)";
  EXPECT_EQ(LoadErrors(kText, "orders.yaml"),
            R"(orders.yaml:1:3: spec "pricing": field "kind": required
orders.yaml:4:9: spec "bad name": field "name": invalid name "bad name": use letters, digits, '_', '.' and '-'
orders.yaml:5:9: spec "n1": field "kind": must be a string
orders.yaml:7:14: spec "n1": field "namespace": invalid namespace "a/b": use letters, digits, '_', '.' and '-'
orders.yaml:8:7: spec "n1": field "id": not a UUID: "1234"
orders.yaml:11:16: spec "n2": field "annotations": must be a map of strings
orders.yaml:13:5: spec "n2": field "env.1X": invalid env name "1X": use letters, digits and '_', not starting with a digit
orders.yaml:14:11: spec "n2": field "env.GOOD": must be {data: ...} or {name: value-name}
orders.yaml:15:11: spec "n2": field "env.BOTH": give data or name, not both
orders.yaml:16:12: spec "n2": field "env.NONE.foo": unknown key (expected data or name)
orders.yaml:16:11: spec "n2": field "env.NONE": must be {data: ...} or {name: value-name}
orders.yaml:18:5: spec "n2": field "ports.outt": invalid output port "outt": expected out, out[N] (N <= 4095) or error; did you mean "out"?
orders.yaml:21:15: spec "n2": field "ports.out.0.port": invalid input port "in[x]": expected in or in[N] (N <= 4095)
orders.yaml:22:9: spec "n2": field "ports.out.0.wen": unknown key (expected name, id, port or when)
orders.yaml:21:9: spec "n2": field "ports.out.0": a target needs name or id
orders.yaml:23:9: spec "n2": field "ports.out.1": a target must be a map with name or id
orders.yaml:24:5: spec "n2": field "ports.out[0]": same port as "out"
orders.yaml:25:12: spec "n2": field "ports.error": must be a list of targets
orders.yaml:26:3: field "name": required unless id is given
orders.yaml:29:3: spec "n3": field "name": duplicate key
orders.yaml:30:8: spec "n3": field "env": must be a map from names to {data: ...} or {name: value-name}
orders.yaml:31:10: spec "n3": field "ports": must be a map from output ports to lists of targets
orders.yaml:32:3: spec "n5": field "kind": required
orders.yaml:36:16: spec "n5": field "ports.out.0.name": invalid target name "x y": use letters, digits, '_', '.' and '-'
orders.yaml:36:27: spec "n5": field "ports.out.0.id": not a UUID: "nope"
orders.yaml:36:39: spec "n5": field "ports.out.0.when": must be a Lua expression (a string)
orders.yaml:39:20: spec "n6": field "annotations.a": must be a string
orders.yaml:41:5: spec "n6": field "ports.error[1]": invalid output port "error[1]": expected out, out[N] (N <= 4095) or error)");
}

TEST(LoaderTest, DiagnosticsKeepGoodSpecs) {
  Diagnostics diags;
  std::vector<Spec> specs = LoadSpecText(
      "- {kind: nop, name: a}\n- {name: b}\n- {kind: nop, name: c}\n", "g.yaml", diags);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "a");
  EXPECT_EQ(specs[1].name, "c");
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags.items()[0].spec, "b");
  EXPECT_EQ(diags.items()[0].field, "kind");
  EXPECT_EQ(diags.items()[0].message, "required");
  EXPECT_EQ(diags.items()[0].pos, Pos(2, 3, "g.yaml"));
  EXPECT_EQ(diags.ToString(), R"(g.yaml:2:3: spec "b": field "kind": required)");
  Error e = diags.ToError();
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.message, diags.ToString());
  EXPECT_FALSE(diags.ToStatus().has_value());
  EXPECT_TRUE(Diagnostics().ToStatus().has_value());
}

TEST(LoaderTest, ReportsDocumentShapeErrors) {
  EXPECT_EQ(LoadErrors("hello\n---\n- 1\n- {kind: nop, name: a}\n- [x]\n"),
            "f.yaml:1:1: expected a spec (a map) or a list of specs\n"
            "f.yaml:3:3: a spec must be a map\n"
            "f.yaml:5:3: a spec must be a map");
}

TEST(LoaderTest, ReportsDuplicateKeysInFields) {
  EXPECT_EQ(LoadErrors("kind: nop\nname: a\nroutes:\n  - {path: /a, path: /b}\n  - [1]: x\n"),
            "f.yaml:4:16: spec \"a\": field \"routes.0.path\": duplicate key\n"
            "f.yaml:5:5: spec \"a\": field \"routes.1\": map keys must be strings");
}

TEST(LoaderTest, ReportsSyntaxErrorsWithPosition) {
  EXPECT_EQ(LoadErrors("- kind: nop\n  name: a\n  routes: [1\n", "bad.yaml"),
            "bad.yaml:4:1: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(LoadErrors("kind: a: b\n", "bad.yaml"),
            "bad.yaml:1:8: invalid YAML: illegal map value");
  EXPECT_EQ(LoadErrors("{\"kind\": \"nop\",}\n{", "bad.json"),
            "bad.json:2:1: invalid YAML: end of map flow not found");
}

// yaml-cpp 0.7's LoadAll loops forever on a stray ',' at document level (yaml-cpp#1040);
// the loader must stop and say where. The test would hang (and time out) on a regression.
TEST(LoaderTest, StrayCommaAtDocumentLevelIsAnErrorNotAHang) {
  EXPECT_EQ(LoadErrors(",", "bad.yaml"), "bad.yaml:1:1: malformed YAML near \",\"");
  EXPECT_EQ(LoadErrors(",{}", "bad.yaml"), "bad.yaml:1:1: malformed YAML near \",{}\"");
  EXPECT_EQ(LoadErrors(", {", "bad.yaml"), "bad.yaml:1:1: malformed YAML near \", {\"");
  EXPECT_EQ(LoadErrors(",[", "bad.yaml"), "bad.yaml:1:1: malformed YAML near \",[\"");
  // After a valid document, with the position of the comma.
  EXPECT_EQ(LoadErrors("kind: nop\nname: a\n---\n  , x\n", "bad.yaml"),
            "bad.yaml:4:3: malformed YAML near \", x\"");
  EXPECT_EQ(LoadValuesText(",{}", "v.yaml").error().message,
            "v.yaml:1:1: malformed YAML near \",{}\"");
  auto value = ParseYamlValue(",", "s.yaml");
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().message, "s.yaml:1:1: malformed YAML near \",\"");
}

TEST(LoaderTest, DocumentStreamsStillLoad) {
  std::vector<Spec> specs =
      MustLoad("---\n---\nkind: nop\nname: a\n...\n---\n- {kind: nop, name: b}\n---\n");
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].pos, Pos(3, 1));
  EXPECT_EQ(specs[1].pos, Pos(7, 3));
  // A self-referencing alias is a cycle; the nesting limit stops it.
  std::string errors = LoadErrors("kind: nop\nname: a\nx: &a [*a]\n");
  EXPECT_NE(errors.find("nested deeper than 256"), std::string::npos) << errors;
}

TEST(LoaderTest, CountsColumnsInCharacters) {
  std::vector<Spec> specs = MustLoad("\xEF\xBB\xBFkind: nop\nname: a\nété: {ça: x}\n");
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].pos, Pos(1, 1));
  EXPECT_EQ(specs[0].PosOf("été"), Pos(3, 6));
  EXPECT_EQ(specs[0].PosOf("été.ça"), Pos(3, 11));
}

TEST(LoaderTest, EmptyValuesSitAtTheirKey) {
  std::vector<Spec> specs = MustLoad("kind: nop\nname: a\nempty:\nlist:\n  -\n  - ~\nnext: 1\n");
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_TRUE(specs[0].fields["empty"].IsNull());
  EXPECT_EQ(specs[0].PosOf("empty"), Pos(3, 1));
  EXPECT_EQ(specs[0].PosOf("list.1"), Pos(6, 5));
  EXPECT_EQ(ToJson(specs[0].fields["list"]), "[null,null]");
}

TEST(LoaderTest, AliasesAreExpandedWithinLimits) {
  std::vector<Spec> specs = MustLoad("kind: nop\nname: a\nbase: &b {x: 1}\ncopy: *b\n");
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(ToJson(specs[0].fields), R"({"base":{"x":1},"copy":{"x":1}})");

  // Ten levels of ten aliases each would expand to 10^10 nodes.
  std::string bomb = "kind: nop\nname: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", " : "") + prev;
    bomb += "]\n";
  }
  std::string errors = LoadErrors(bomb);
  EXPECT_NE(errors.find("document too large: more than 1000000 nodes (after expanding aliases)"),
            std::string::npos)
      << errors;
  EXPECT_EQ(errors.find('\n'), std::string::npos) << "reported once: " << errors;
}

TEST(LoaderTest, RejectsDeepNesting) {
  std::string deep = "kind: nop\nname: a\nx: " + std::string(300, '[') + std::string(300, ']');
  std::string errors = LoadErrors(deep);
  EXPECT_NE(errors.find("nested deeper than 256"), std::string::npos) << errors;
}

TEST(LoaderTest, LoadsFiles) {
  std::string path = ::testing::TempDir() + "/epos_loader_test.yaml";
  {
    std::ofstream out(path);
    out << kUniflowPing;
  }
  auto specs = LoadSpecFile(path);
  ASSERT_TRUE(specs.has_value()) << specs.error().message;
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].pos.file, path);
  std::remove(path.c_str());

  auto missing = LoadSpecFile("/nonexistent/x.yaml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "/nonexistent/x.yaml: cannot read: No such file or directory");

  Diagnostics diags;
  EXPECT_TRUE(LoadSpecFile("/nonexistent/x.yaml", diags).empty());
  EXPECT_EQ(diags.ToString(), "/nonexistent/x.yaml: cannot read: No such file or directory");
}

TEST(LoaderTest, LoadsValues) {
  auto values = LoadValuesText(R"(
- name: api-token
  data: s3cret
- name: config
  namespace: shop
  annotations: {owner: ops}
  data: {port: 8080, hosts: [a, b]}
---
{"id": "0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6e", "data": null}
)",
                               "values.yaml");
  ASSERT_TRUE(values.has_value()) << values.error().message;
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[0].name, "api-token");
  EXPECT_EQ((*values)[0].name_space, "default");
  EXPECT_EQ((*values)[0].data, Value("s3cret"));
  EXPECT_EQ((*values)[0].pos, Pos(2, 3, "values.yaml"));
  EXPECT_EQ((*values)[1].name_space, "shop");
  EXPECT_EQ((*values)[1].annotations.at("owner"), "ops");
  EXPECT_EQ(ToJson((*values)[1].data), R"({"port":8080,"hosts":["a","b"]})");
  EXPECT_EQ((*values)[2].id, "0190c2a4-7b1e-7cc3-98d4-1c2a3b4c5d6e");
  EXPECT_TRUE((*values)[2].data.IsNull());
}

TEST(LoaderTest, ReportsValueErrors) {
  auto values =
      LoadValuesText("- name: a\n- data: 1\n- name: b\n  data: 1\n  kind: value\n", "v.yaml");
  ASSERT_FALSE(values.has_value());
  EXPECT_EQ(values.error().message,
            "v.yaml:1:3: spec \"a\": field \"data\": required\n"
            "v.yaml:2:3: field \"name\": required unless id is given\n"
            "v.yaml:5:3: spec \"b\": field \"kind\": unknown field (a value has id, namespace, "
            "name, annotations, data)");
}

}  // namespace
}  // namespace epos
