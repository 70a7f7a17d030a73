#include "yaml_tree.h"

#include <sstream>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

namespace epos::internal {

// Builds one document's tree from parser events, as yaml-cpp's own NodeBuilder does
// (src/nodebuilder.cc): collections are open frames, a map frame pairs up its children as
// key then value, an anchor names the node it is attached to from the node's start.
class YamlTreeBuilder final : public YAML::EventHandler {
 public:
  explicit YamlTreeBuilder(YamlStream& stream) : stream_(stream) {}

  // The mark of the document's first token, and its root (nullptr before any node).
  const YAML::Mark& start() const { return start_; }
  const YamlNode* root() const { return root_; }

  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Add(New(YamlNode::Type::kNull, mark, "", anchor));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    // The parser rejects unknown anchors; stay safe if it ever does not.
    if (anchor < anchors_.size() && anchors_[anchor] != nullptr) {
      Add(*anchors_[anchor]);
    } else {
      Add(New(YamlNode::Type::kNull, mark, "", YAML::NullAnchor));
    }
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode& node = New(YamlNode::Type::kScalar, mark, tag, anchor);
    node.scalar_ = value;
    Add(node);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(New(YamlNode::Type::kSequence, mark, tag, anchor));
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(New(YamlNode::Type::kMap, mark, tag, anchor));
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    YamlNode* node;
    const YamlNode* key = nullptr;  // a map's key still waiting for its value
  };

  YamlNode& New(YamlNode::Type type, const YAML::Mark& mark, const std::string& tag,
                YAML::anchor_t anchor) {
    YamlNode& node = stream_.nodes_.emplace_back(type, mark, tag);
    if (anchor != YAML::NullAnchor) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1, nullptr);
      anchors_[anchor] = &node;
    }
    return node;
  }

  // Attaches `node` to the open collection (or makes it the root).
  void Add(const YamlNode& node) {
    if (stack_.empty()) {
      if (root_ == nullptr) root_ = &node;
      return;
    }
    Frame& top = stack_.back();
    if (top.node->IsSequence()) {
      top.node->items_.emplace_back(node);
    } else if (top.key == nullptr) {
      top.key = &node;
    } else {
      top.node->entries_.push_back(YamlNode::Entry{*top.key, node});
      top.key = nullptr;
    }
  }

  void Open(YamlNode& node) {
    Add(node);
    stack_.push_back(Frame{&node});
  }
  void Close() {
    if (!stack_.empty()) stack_.pop_back();
  }

  YamlStream& stream_;
  YAML::Mark start_ = YAML::Mark::null_mark();
  const YamlNode* root_ = nullptr;
  std::vector<Frame> stack_;
  std::vector<YamlNode*> anchors_;  // by anchor id; ids restart with each document
};

std::optional<YAML::Mark> YamlStream::Parse(std::string_view text) {
  // A document that starts where the previous one started consumed no token, and the
  // parser will return it again forever. A document that consumes a token ends past its
  // start, so this does not reject valid input; allow a few repeats anyway, in case a
  // zero-width token (an implied block start or end) ever starts two documents.
  constexpr int kMaxStalledDocuments = 4;
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  std::optional<YAML::Mark> previous;
  int stalled = 0;
  while (true) {
    YamlTreeBuilder builder(*this);
    if (!parser.HandleNextDocument(builder)) break;
    if (previous && builder.start().pos <= previous->pos) {
      if (++stalled >= kMaxStalledDocuments) return builder.start();
    } else {
      stalled = 0;
    }
    previous = builder.start();
    const YamlNode* root = builder.root();
    if (root == nullptr)
      root = &nodes_.emplace_back(YamlNode::Type::kNull, YAML::Mark::null_mark(), "");
    documents_.push_back(root);
  }
  return std::nullopt;
}

}  // namespace epos::internal
