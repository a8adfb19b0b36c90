#!/usr/bin/env python3
"""Writes the Grafana dashboards: monitoring/grafana/dashboards/ (pelt.json, hosts.json, on the
Prometheus data source) and monitoring/grafana/dashboards-influxdb/ (pelt-influxdb.json, on the
InfluxDB data source, for runs pushed with --out influxdb; see docs/OUTPUTS.md).

The JSON files are committed; edit this file and run it again to change them:
    python3 monitoring/grafana/generate_dashboards.py
"""
import json
import os

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
INFLUX = {"type": "influxdb", "uid": "influxdb"}
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")
OUT_INFLUX = os.path.join(HERE, "dashboards-influxdb")

# Label matchers shared by the pelt queries. A fleet's instances (pelt run --segment I/N) share
# a run_id; `instance` tells them apart. Every panel sums over the instances picked.
RUN = 'run_id=~"$run_id", instance=~"$instance"'
SEL = 'run_id=~"$run_id", instance=~"$instance", scenario=~"$scenario"'
RI = "$__rate_interval"


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def place(self, panel, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_height
            self.row_height = 0
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel


def target(expr, legend="", ref="A", instant=False, fmt=None):
    t = {"datasource": DATASOURCE, "refId": ref, "expr": expr, "legendFormat": legend,
         "range": not instant, "instant": instant}
    if fmt:
        t["format"] = fmt
    return t


def targets(*pairs):
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(pairs)]


def timeseries(title, tgts, unit="short", description="", stack=False, datasource=DATASOURCE):
    return {
        "type": "timeseries", "title": title, "description": description,
        "datasource": datasource, "targets": tgts,
        "fieldConfig": {"defaults": {"unit": unit, "custom": {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"}}},
            "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def stat(title, tgts, unit="short", mappings=None, thresholds=None, description="",
         datasource=DATASOURCE):
    return {
        "type": "stat", "title": title, "description": description,
        "datasource": datasource, "targets": tgts,
        "fieldConfig": {"defaults": {
            "unit": unit, "mappings": mappings or [],
            "thresholds": thresholds or {"mode": "absolute",
                                         "steps": [{"color": "blue", "value": None}]}},
            "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "auto",
                    "orientation": "auto", "justifyMode": "auto"},
    }


def query_variable(name, label, query, multi=False):
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query, "refresh": 2, "sort": 1,
        "multi": multi, "includeAll": multi, "allValue": ".*" if multi else None,
        "current": {}, "hide": 0, "options": [], "regex": "", "skipUrlSync": False,
    }


def dashboard(uid, title, panels, variables, description, refresh="5s", time_from="now-15m"):
    return {
        "uid": uid, "title": title, "description": description, "tags": ["pelt"],
        "editable": True, "graphTooltip": 1, "schemaVersion": 38, "version": 1,
        "refresh": refresh, "time": {"from": time_from, "to": "now"},
        "timepicker": {"refresh_intervals": ["1s", "5s", "10s", "30s", "1m"]},
        "templating": {"list": variables}, "annotations": {"list": []},
        "links": [], "panels": panels,
    }


def quantile(q, metric, by="le", sel=SEL):
    return (f"histogram_quantile({q}, sum by ({by}) "
            f"(rate({metric}_bucket{{{sel}}}[{RI}])))")


def pelt_dashboard():
    lay = Layout()
    req = f"pelt_http_requests_total{{{SEL}}}"
    dur = "pelt_http_request_duration_seconds"
    pass_fail = [{"type": "value", "options": {
        "0": {"text": "FAIL", "color": "red", "index": 0},
        "1": {"text": "PASS", "color": "green", "index": 1}}}]
    pass_fail_colors = {"mode": "absolute", "steps": [{"color": "red", "value": None},
                                                      {"color": "green", "value": 1}]}
    panels = [
        lay.place(stat("Current stage", targets(
            (f"max by (scenario) (pelt_stage{{{SEL}}})", "{{scenario}}")),
            description="Index of the stage each scenario is in (0-based)."), 6, 4),
        lay.place(stat("Threshold status", targets(
            (f"min by (threshold) (pelt_threshold_ok{{{RUN}}})", "{{threshold}}")),
            mappings=pass_fail, thresholds=pass_fail_colors,
            description="PASS while the threshold holds, FAIL once crossed."), 12, 4),
        lay.place(stat("Requests in flight", targets(
            (f"sum(pelt_requests_in_flight{{{RUN}}})", "in flight"))), 6, 4),
        lay.place(timeseries("Virtual users", targets(
            (f"sum by (scenario) (pelt_vus{{{SEL}}})", "{{scenario}} active"),
            (f"sum by (scenario) (pelt_vus_max{{{SEL}}})", "{{scenario}} allocated"),
            (f"sum by (scenario) (pelt_target{{{SEL}}})", "{{scenario}} target")),
            description="Target is VUs, or iterations/s for arrival-rate scenarios."), 12, 8),
        lay.place(timeseries("Requests per second", targets(
            (f"sum(rate({req}[{RI}]))", "total"),
            (f"sum by (scenario) (rate(pelt_iterations_total{{{SEL}}}[{RI}]))",
             "{{scenario}} iterations/s")), unit="reqps"), 12, 8),
        lay.place(timeseries("Requests per second by status", targets(
            (f"sum by (status) (rate({req}[{RI}]))", "{{status}}")),
            unit="reqps", stack=True), 12, 8),
        lay.place(timeseries("Error rate", targets(
            (f"(sum(rate(pelt_http_request_failures_total{{{SEL}}}[{RI}])) or vector(0))"
             f" / sum(rate({req}[{RI}]))", "failed share"),
            ), unit="percentunit",
            description="Failed requests (status >= 400 or no response) per request."), 6, 8),
        lay.place(timeseries("Errors by kind", targets(
            (f"sum by (kind) (rate(pelt_errors_total{{{RUN}}}[{RI}]))", "{{kind}}")),
            unit="short", description="wrk's error kinds, per second."), 6, 8),
        lay.place(timeseries("Latency", targets(
            (f"sum(rate({dur}_sum{{{SEL}}}[{RI}])) / sum(rate({dur}_count{{{SEL}}}[{RI}]))",
             "avg"),
            (quantile(0.5, dur), "p50"),
            (quantile(0.95, dur), "p95"),
            (quantile(0.99, dur), "p99")), unit="s"), 12, 8),
        lay.place(timeseries("p99 latency by request name", targets(
            (quantile(0.99, dur, by="le, name"), "{{name}}")), unit="s"), 12, 8),
        lay.place(timeseries("Data rates", targets(
            (f"sum(rate(pelt_data_sent_bytes_total{{{RUN}}}[{RI}]))", "sent"),
            (f"sum(rate(pelt_data_received_bytes_total{{{RUN}}}[{RI}]))", "received")),
            unit="Bps"), 8, 8),
        lay.place(timeseries("Dropped and interrupted iterations", targets(
            (f"sum by (scenario) (rate(pelt_dropped_iterations_total{{{SEL}}}[{RI}]))",
             "dropped {{scenario}}"),
            (f"sum by (scenario) (rate(pelt_interrupted_iterations_total{{{SEL}}}[{RI}]))",
             "interrupted {{scenario}}")), unit="short",
            description="Per second: arrival-rate iterations that found no free VU, and iterations "
                        "cut when graceful_stop or graceful_ramp_down ran out."), 8, 8),
        lay.place(timeseries("Send lag", targets(
            (quantile(0.5, "pelt_send_lag_seconds", sel=RUN), "p50"),
            (quantile(0.99, "pelt_send_lag_seconds", sel=RUN), "p99")), unit="s",
            description="How far open-loop sends fell behind schedule."), 8, 8),
        # A fleet: the same figures split by instance (docs/DISTRIBUTED.md).
        lay.place(stat("Instances", targets(
            (f"count(count by (instance) (pelt_run_info{{{RUN}}}))", "instances")),
            description="Instances of the run reporting (pelt run --segment I/N)."), 4, 8),
        lay.place(timeseries("Requests per second by instance", targets(
            (f"sum by (instance) (rate({req}[{RI}]))", "{{instance}}")), unit="reqps"), 10, 8),
        lay.place(timeseries("p95 latency by instance", targets(
            (quantile(0.95, dur, by="le, instance"), "{{instance}}")), unit="s"), 10, 8),
        lay.place(timeseries("VUs by instance", targets(
            (f"sum by (instance) (pelt_vus{{{SEL}}})", "{{instance}} active"),
            (f"sum by (instance) (pelt_target{{{SEL}}})", "{{instance}} target")),
            description="Each instance's share of the VUs, or of the arrival rate."), 12, 8),
        lay.place(timeseries("Errors by instance", targets(
            (f"sum by (instance) (rate(pelt_http_request_failures_total{{{SEL}}}[{RI}]))"
             f" or sum by (instance) (rate({req}[{RI}])) * 0", "{{instance}}")), unit="short",
            description="Failed requests per second (0 while an instance has none)."), 12, 8),
    ]
    variables = [
        query_variable("run_id", "Run", "label_values(pelt_run_info, run_id)"),
        query_variable("instance", "Instance",
                       'label_values(pelt_run_info{run_id=~"$run_id"}, instance)', multi=True),
        query_variable("scenario", "Scenario",
                       'label_values(pelt_run_info{run_id=~"$run_id", instance=~"$instance"}, scenario)',
                       multi=True),
        # Scenario tags are free-form labels: Grafana adds any label filter picked here to
        # every query of the dashboard (e.g. team = checkout).
        {"name": "filters", "label": "Tags", "type": "adhoc", "datasource": DATASOURCE,
         "filters": [], "hide": 0, "skipUrlSync": False},
    ]
    return dashboard("pelt-run", "pelt load test", panels, variables,
                     "Live view of a pelt run: load, throughput, errors, latency, thresholds.")


def hosts_dashboard():
    lay = Layout()
    inst = 'instance=~"$instance"'
    panels = [
        lay.place(timeseries("Host CPU busy", targets(
            (f'1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle", {inst}}}[{RI}]))',
             "{{instance}}")), unit="percentunit"), 12, 8),
        lay.place(timeseries("Load average", targets(
            (f"node_load1{{{inst}}}", "{{instance}} 1m"),
            (f"node_load5{{{inst}}}", "{{instance}} 5m"),
            (f"node_load15{{{inst}}}", "{{instance}} 15m"))), 12, 8),
        lay.place(timeseries("Memory used", targets(
            (f"node_memory_MemTotal_bytes{{{inst}}} - node_memory_MemAvailable_bytes{{{inst}}}",
             "{{instance}} used"),
            (f"node_memory_MemTotal_bytes{{{inst}}}", "{{instance}} total")), unit="bytes"),
            12, 8),
        lay.place(timeseries("Network", targets(
            (f'sum by (instance) (rate(node_network_receive_bytes_total{{device!="lo", {inst}}}'
             f"[{RI}]))", "{{instance}} in"),
            (f'sum by (instance) (rate(node_network_transmit_bytes_total{{device!="lo", {inst}}}'
             f"[{RI}]))", "{{instance}} out")), unit="Bps"), 12, 8),
        lay.place(timeseries("Container CPU", targets(
            (f'sum by (name) (rate(container_cpu_usage_seconds_total{{name!=""}}[{RI}]))',
             "{{name}}")), unit="percentunit",
            description="CPU seconds per second, per container (cAdvisor)."), 12, 8),
        lay.place(timeseries("Container memory", targets(
            ('sum by (name) (container_memory_working_set_bytes{name!=""})', "{{name}}")),
            unit="bytes"), 12, 8),
    ]
    variables = [query_variable("instance", "Host", "label_values(node_uname_info, instance)",
                                multi=True)]
    return dashboard("pelt-hosts", "pelt hosts and containers", panels, variables,
                     "Load generator and target hosts (node-exporter) and containers (cAdvisor).",
                     refresh="10s")


# --- InfluxDB (points written by --out influxdb / influxdb2; measurements in docs/OUTPUTS.md) ---

# Every InfluxQL query of the dashboard filters on the picked run and Grafana's time range.
IRUN = """"run_id" =~ /^$run_id$/ AND $timeFilter"""
ISCEN = """"run_id" =~ /^$run_id$/ AND "scenario" =~ /^$scenario$/ AND $timeFilter"""


def influx_target(query, alias="", ref="A", table=False):
    return {"datasource": INFLUX, "refId": ref, "query": query, "rawQuery": True,
            "resultFormat": "table" if table else "time_series", "alias": alias}


def influx_targets(*pairs):
    return [influx_target(q, alias, chr(ord("A") + i)) for i, (q, alias) in enumerate(pairs)]


def per_second(fields, measurement="pelt_run", where=IRUN, group=""):
    """SELECT mean(field) AS alias, ... per $__interval: per-second figures stay per second."""
    cols = ", ".join(f'mean("{f}") AS "{alias}"' for f, alias in fields)
    by = f', "{group}"' if group else ""
    return (f'SELECT {cols} FROM "{measurement}" WHERE {where} '
            f"GROUP BY time($__interval){by} fill(none)")


def influx_variable(name, label, query, multi=False):
    return {
        "name": name, "label": label, "type": "query", "datasource": INFLUX,
        "query": query, "definition": query, "refresh": 2, "sort": 1,
        "multi": multi, "includeAll": multi, "allValue": ".*" if multi else None,
        "current": {}, "hide": 0, "options": [], "regex": "", "skipUrlSync": False,
    }


def influx_dashboard():
    lay = Layout()
    ts = dict(datasource=INFLUX)
    panels = [
        lay.place(stat("Requests", [influx_target(
            f'SELECT sum("requests") FROM "pelt_run" WHERE {IRUN}', "requests")],
            description="Requests that ended in the time range.", **ts), 6, 4),
        lay.place(stat("Failed share", [influx_target(
            f'SELECT sum("failed") / sum("requests") FROM "pelt_run" WHERE {IRUN}', "failed")],
            unit="percentunit", thresholds={"mode": "absolute", "steps": [
                {"color": "green", "value": None}, {"color": "red", "value": 0.01}]},
            description="Failed requests (status >= 400 or no response) per request.", **ts),
            6, 4),
        lay.place(stat("Peak p99 latency", [influx_target(
            f'SELECT max("latency_p99") FROM "pelt_run" WHERE {IRUN}', "p99")], unit="ms",
            description="Highest per-second p99 in the time range.", **ts), 6, 4),
        lay.place(stat("Peak VUs", [influx_target(
            f'SELECT max("vus") FROM "pelt_run" WHERE {IRUN}', "VUs")], **ts), 6, 4),
        lay.place(timeseries("Requests per second", influx_targets(
            (per_second([("rps", "total")]), ""),
            (per_second([("rps", "rps")], "pelt_scenario", ISCEN, "scenario"),
             "$tag_scenario")), unit="reqps", **ts), 12, 8),
        lay.place(timeseries("Latency", influx_targets(
            (per_second([("latency_avg", "avg"), ("latency_p50", "p50"),
                         ("latency_p95", "p95"), ("latency_p99", "p99")]), "")),
            unit="ms", description="Per second: average and percentiles of the requests that "
                                   "ended in that second.", **ts), 12, 8),
        lay.place(timeseries("Requests per second by status class", influx_targets(
            (per_second([("status_2xx", "2xx"), ("status_3xx", "3xx"), ("status_4xx", "4xx"),
                         ("status_5xx", "5xx"), ("status_other", "no response")]), "")),
            unit="reqps", stack=True, **ts), 12, 8),
        lay.place(timeseries("Error rate", influx_targets(
            (f'SELECT sum("failed") / sum("requests") AS "failed share" FROM "pelt_run" '
             f"WHERE {IRUN} GROUP BY time($__interval) fill(none)", "")),
            unit="percentunit", **ts), 6, 8),
        lay.place(timeseries("Errors by kind", influx_targets(
            (per_second([("errors_connect", "connect"), ("errors_read", "read"),
                         ("errors_write", "write"), ("errors_timeout", "timeout"),
                         ("errors_status", "status")]), "")),
            description="wrk's error kinds, per second.", **ts), 6, 8),
        lay.place(timeseries("p95 latency by request name", influx_targets(
            (per_second([("latency_p95", "p95")], "pelt_request", ISCEN, "name"), "$tag_name")),
            unit="ms", **ts), 12, 8),
        lay.place(timeseries("Virtual users", influx_targets(
            (per_second([("vus", "active")], "pelt_scenario", ISCEN, "scenario"),
             "$tag_scenario active"),
            (per_second([("target_vus", "target")], "pelt_scenario", ISCEN, "scenario"),
             "$tag_scenario target")), **ts), 12, 8),
        lay.place(timeseries("Data rates", influx_targets(
            (per_second([("bytes_sent", "sent"), ("bytes_received", "received")]), "")),
            unit="Bps", **ts), 6, 8),
        lay.place(timeseries("Dropped iterations and send lag", influx_targets(
            (per_second([("dropped_iterations", "dropped")], "pelt_scenario", ISCEN, "scenario"),
             "dropped $tag_scenario"),
            (per_second([("send_lag_p99", "send lag p99 (ms)")]), "")),
            description="Arrival-rate iterations per second that found no free VU, and how far "
                        "open-loop sends fell behind schedule (p99, ms).", **ts), 6, 8),
    ]
    variables = [
        influx_variable("run_id", "Run", 'SHOW TAG VALUES FROM "pelt_run" WITH KEY = "run_id"'),
        influx_variable("scenario", "Scenario",
                        'SHOW TAG VALUES FROM "pelt_scenario" WITH KEY = "scenario" '
                        'WHERE "run_id" =~ /^$run_id$/', multi=True),
    ]
    return dashboard("pelt-run-influxdb", "pelt load test (InfluxDB)", panels, variables,
                     "A pelt run pushed with --out influxdb: throughput, latency percentiles, "
                     "errors and VUs, one point per second.")


def write(directory, name, board):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "w") as f:
        json.dump(board, f, indent=2)
        f.write("\n")


def main():
    write(OUT, "pelt.json", pelt_dashboard())
    write(OUT, "hosts.json", hosts_dashboard())
    write(OUT_INFLUX, "pelt-influxdb.json", influx_dashboard())


if __name__ == "__main__":
    main()
