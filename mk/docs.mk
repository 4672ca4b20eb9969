# Pictures made from the examples, committed so that readers (and the
# README) need no Graphviz: `make graph` regenerates doc/iot-gateway.svg,
# the routes of examples/iot-gateway.tr drawn from `tcproutec --graph`.
# Needs dot(1) from the graphviz package; the tests do not.
DOT ?= dot

.PHONY: graph

graph: doc/iot-gateway.svg

# Two steps, not a pipe: a failed compile must not leave an empty picture.
doc/iot-gateway.svg: examples/iot-gateway.tr tcproutec | $(B)
	./tcproutec --graph -o $(B)/iot-gateway.dot $<
	$(DOT) -Tsvg -o $@.tmp $(B)/iot-gateway.dot
	mv $@.tmp $@
