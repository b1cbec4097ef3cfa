#pragma once
// Small ONNX models for the tests, built with the ONNX library's protobuf classes.
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "liteai/core/tensor.hpp"

namespace onnx_test {

namespace ox = ::onnx;

class Builder {
 public:
  explicit Builder(int64_t opset = 13) {
    m_.set_ir_version(opset >= 15 ? 8 : 7);
    auto* op = m_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    m_.mutable_graph()->set_name("test");
  }
  // dims: 0 marks the symbolic batch dimension ("N"), -1 an unknown one.
  Builder& input(const std::string& name, const std::vector<int64_t>& dims) {
    value(m_.mutable_graph()->add_input(), name, dims);
    return *this;
  }
  // An output of `rank` dimensions: the first the batch ("N"), the others left to shape inference.
  Builder& output(const std::string& name, int rank, int elem_type = ox::TensorProto_DataType_FLOAT) {
    std::vector<int64_t> dims(size_t(rank), -1);
    dims[0] = 0;
    value(m_.mutable_graph()->add_output(), name, dims, elem_type);
    return *this;
  }
  ox::TensorProto* init(const std::string& name, const liteai::Tensor& t) {
    ox::TensorProto* p = m_.mutable_graph()->add_initializer();
    p->set_name(name);
    p->set_data_type(ox::TensorProto_DataType_FLOAT);
    for (int64_t d : t.shape()) p->add_dims(d);
    for (float v : t.to_vector()) p->add_float_data(v);
    return p;
  }
  ox::TensorProto* init_ints(const std::string& name, const std::vector<int64_t>& v) {
    ox::TensorProto* p = m_.mutable_graph()->add_initializer();
    p->set_name(name);
    p->set_data_type(ox::TensorProto_DataType_INT64);
    p->add_dims(int64_t(v.size()));
    for (int64_t x : v) p->add_int64_data(x);
    return p;
  }
  struct Node {
    ox::NodeProto* p;
    Node& i(const char* name, int64_t v) {
      auto* a = attr(name, ox::AttributeProto_AttributeType_INT);
      a->set_i(v);
      return *this;
    }
    Node& f(const char* name, float v) {
      auto* a = attr(name, ox::AttributeProto_AttributeType_FLOAT);
      a->set_f(v);
      return *this;
    }
    Node& ints(const char* name, const std::vector<int64_t>& v) {
      auto* a = attr(name, ox::AttributeProto_AttributeType_INTS);
      for (int64_t x : v) a->add_ints(x);
      return *this;
    }
    Node& s(const char* name, const std::string& v) {
      auto* a = attr(name, ox::AttributeProto_AttributeType_STRING);
      a->set_s(v);
      return *this;
    }
    ox::AttributeProto* attr(const char* name, ox::AttributeProto_AttributeType t) {
      auto* a = p->add_attribute();
      a->set_name(name);
      a->set_type(t);
      return a;
    }
  };
  Node node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
            const std::string& name = "") {
    ox::NodeProto* n = m_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(m_.graph().node_size()) : name);
    for (const auto& v : in) n->add_input(v);
    for (const auto& v : out) n->add_output(v);
    return Node{n};
  }
  std::string bytes() const {
    std::string s;
    m_.SerializeToString(&s);
    return s;
  }
  ox::ModelProto& model() { return m_; }

 private:
  static void value(ox::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims,
                    int elem_type = ox::TensorProto_DataType_FLOAT) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem_type);
    if (dims.empty()) return;
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d == 0) dim->set_dim_param("N");
      else if (d > 0) dim->set_dim_value(d);
    }
  }
  ox::ModelProto m_;
};

}  // namespace onnx_test
