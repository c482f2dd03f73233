# The Sidekiq application of tests/e2e/test_sidekiq.rb, loaded by the driver (as a client) and by
# `sidekiq -r` (as the server). Needs DOCKET_URL. A server middleware appends every run of a job
# (jid, class, args, retry_count, time) as one JSON line to runs.log in the cwd.
require "json"
require "sidekiq"

REDIS_URL = ENV.fetch("DOCKET_URL")
QUEUE = "e2e"
# redis-rb 4.8 warns about Sidekiq 6.4's calls (sadd, brpop's positional timeout) on every use.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

# Records each run before the job's own code, so a try that raises is recorded too.
class RecordRuns
  def call(_worker, job, _queue)
    entry = { jid: job["jid"], class: job["class"], args: job["args"],
              retry_count: job["retry_count"], time: Time.now.to_f, pid: Process.pid }
    File.open("runs.log", "a") { |f| f.puts(JSON.generate(entry)) }
    yield
  end
end

Sidekiq.configure_client do |config|
  config.redis = { url: REDIS_URL }
end

Sidekiq.configure_server do |config|
  config.redis = { url: REDIS_URL }
  config.average_scheduled_poll_interval = 1
  # Set explicitly, the poll interval is 0.5-1.5 s and the poller's first wait 0-5 s (not 10-15 s).
  config.options[:poll_interval_average] = 1
  config.server_middleware { |chain| chain.add RecordRuns }
end

class RecordWorker
  include Sidekiq::Worker
  sidekiq_options queue: QUEUE

  def perform(tag, value)
    value * 2
  end
end

class FlakyError < StandardError; end

# Raises on its first try, succeeds on the retry (1 s + Sidekiq's jitter of 0-9 s later).
class FlakyWorker
  include Sidekiq::Worker
  sidekiq_options queue: QUEUE, retry: 3
  sidekiq_retry_in { |_count, _exception| 1 }

  def perform(tag)
    tries = File.readlines("runs.log").count { |line| JSON.parse(line)["jid"] == jid }
    raise FlakyError, "first try of #{tag} fails" if tries == 1
  end
end
