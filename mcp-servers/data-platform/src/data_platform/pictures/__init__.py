"""Pictures drawn from refs: Vega-Lite specs built from engine-side aggregates, rendered offline."""
