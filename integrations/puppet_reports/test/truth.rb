# Ground truth for the tests and the benchmark: Puppet's own classes load each report (the same
# safe_load Puppet's yaml terminus uses) and print what a metrics pipeline needs, as JSON.
# Usage: ruby truth.rb report.yaml... | ruby truth.rb --legacy old.yaml | ruby truth.rb --time N file
require 'puppet'
require 'json'

def load_report(path, legacy)
  if legacy
    # Puppet <= 4 files tag every nested object; only an unsafe load revives them.
    YAML.unsafe_load(File.read(path))
  else
    r = Puppet::Util::Yaml.safe_load_file(path, [Puppet::Transaction::Report, Symbol])
    r.is_a?(Hash) ? Puppet::Transaction::Report.from_data_hash(r) : r
  end
end

def metric_values(m)
  # A revived legacy Metric keeps its raw @values; a current one has #values.
  m.respond_to?(:values) ? m.values : m.instance_variable_get(:@values)
end

if ARGV[0] == '--time'
  n = Integer(ARGV[1])
  path = ARGV[2]
  load_report(path, false)
  t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  n.times { load_report(path, false) }
  puts JSON.generate({ 'ms_per_load' => (Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0) * 1000.0 / n })
  exit 0
end

legacy = ARGV.delete('--legacy')
out = ARGV.map do |path|
  r = load_report(path, legacy)
  metrics = {}
  labels = {}
  r.metrics.each do |cat, m|
    metric_values(m).each do |name, label, value|
      key = "#{cat.to_s.sub(/\A:/, '')}.#{name.to_s.sub(/\A:/, '')}"
      metrics[key] = value
      labels[key] = label
    end
  end
  logs = Hash.new(0)
  r.logs.each { |l| logs[l.level.to_s] += 1 }
  statuses = r.resource_statuses || {}
  failed = statuses.select { |_k, s| s.failed || (s.respond_to?(:failed_to_restart) && s.failed_to_restart) }.keys.sort
  {
    'path' => path, 'host' => r.host, 'time' => r.time.to_f, 'status' => r.status,
    'noop' => (r.noop if r.respond_to?(:noop)), 'noop_pending' => (r.noop_pending if r.respond_to?(:noop_pending)),
    'corrective_change' => (r.corrective_change if r.respond_to?(:corrective_change)),
    'cached_catalog_status' => (r.cached_catalog_status if r.respond_to?(:cached_catalog_status)),
    'transaction_uuid' => r.transaction_uuid,
    'transaction_completed' => (r.transaction_completed if r.respond_to?(:transaction_completed)),
    'report_format' => r.report_format,
    'metrics' => metrics, 'labels' => labels, 'logs' => logs, 'failed_resources' => failed
  }
end
puts JSON.generate(out)
