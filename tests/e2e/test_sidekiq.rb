#!/usr/bin/ruby
# Sidekiq (Debian ruby-sidekiq, 6.4) end to end against the server at DOCKET_URL: 20 jobs pushed
# with perform_async, one with perform_in(3) and one that raises on its first try (retry: 3,
# sidekiq_retry_in 1 s) are run by two `sidekiq -c 2` processes; every job runs exactly once (the
# flaky one exactly twice), the scheduled job not before its time, the retry not before the time
# it was given in the retry set; then the queues, schedule, retry and dead sets are empty, the
# stats count 23 processed and 1 failed, and both processes stop cleanly on TERM. The application
# is tests/e2e/sidekiq/e2e_app.rb; runs are recorded in runs.log by a server middleware.
# e2e-timeout: 60

require "json"
require "rbconfig"

JOBS = 20
APP = File.expand_path("sidekiq/e2e_app.rb", __dir__)

begin
  require "sidekiq"
  require "sidekiq/api"
rescue LoadError => e
  puts "ruby-sidekiq is not installed: #{e.message}"
  exit 77
end
ENV["DOCKET_URL"] ||= "redis://127.0.0.1:#{ARGV.fetch(0)}/0"
require APP

$failures = []

def check(ok, what)
  puts((ok ? "ok   " : "FAIL ") + what)
  $failures << what unless ok
end

# jid -> list of run entries from runs.log.
def runs
  return {} unless File.exist?("runs.log")
  File.readlines("runs.log").map { |line| JSON.parse(line) }.group_by { |e| e["jid"] }
end

def start_sidekiq(name)
  bin = Gem.bin_path("sidekiq", "sidekiq")
  log = File.open("#{name}.log", "w")
  Process.spawn(RbConfig.ruby, bin, "-r", APP, "-c", "2", "-q", QUEUE, "-t", "5", "-g", name,
                out: log, err: log)
end

def stop_sidekiq(pids)
  pids.each { |_, pid| Process.kill("TERM", pid) }
  pids.each do |name, pid|
    status = nil
    100.times do
      _, status = Process.waitpid2(pid, Process::WNOHANG)
      break if status
      sleep 0.1
    end
    unless status
      Process.kill("KILL", pid)
      _, status = Process.waitpid2(pid)
    end
    check(status.success?, "sidekiq #{name} stopped cleanly on TERM (#{status.inspect})")
  end
end

def wait_until(timeout)
  deadline = Time.now + timeout
  until yield
    return false if Time.now > deadline
    sleep 0.1
  end
  true
end

def show_logs(names)
  names.each do |name|
    text = File.read("#{name}.log")
    puts "---- #{name}.log", text[-3000..] || text
  end
end

jids = (0...JOBS).map { |i| RecordWorker.perform_async("job#{i}", i) }
sent = Time.now.to_f
later = RecordWorker.perform_in(3, "later", 21)
flaky = FlakyWorker.perform_async("flaky")
check(Sidekiq::Queue.new(QUEUE).size == JOBS + 1,
      "queue #{QUEUE} holds #{JOBS + 1} jobs before the servers start")
scheduled = Sidekiq::ScheduledSet.new.map(&:jid)
check(scheduled == [later], "the perform_in job is in the schedule set (#{scheduled})")

pids = { "s1" => start_sidekiq("s1"), "s2" => start_sidekiq("s2") }
retry_at = nil
begin
  check(wait_until(20) { JOBS + 1 <= runs.values_at(*jids, flaky).compact.size },
        "the #{JOBS} jobs and the flaky job's first try ran")
  # The failed try goes to the retry set with its due time as the score.
  check(wait_until(10) { (retry_at = Sidekiq::RetrySet.new.find_job(flaky)&.at) },
        format("the flaky job is in the retry set, due %.3f s after its first try",
               retry_at.to_f - (runs[flaky]&.first&.fetch("time") || 0)))
  if Time.now.to_f < sent + 2.9
    check(!runs.key?(later), "the perform_in(3) job has not run yet at +2.9 s")
  end
  check(wait_until(20) { runs.key?(later) && runs[flaky]&.size == 2 },
        "the scheduled job and the flaky job's retry ran")
  sleep 0.5 # a duplicate run, if any, would show up in runs.log
ensure
  stop_sidekiq(pids)
end

seen = runs
counts = jids.map { |jid| (seen[jid] || []).size }
check(counts == [1] * JOBS, "every perform_async job ran exactly once (run counts #{counts})")
args = jids.map { |jid| seen[jid]&.first&.fetch("args") }
check(args == (0...JOBS).map { |i| ["job#{i}", i] }, "each with its own arguments")
pids_used = seen.values_at(*jids).compact.flatten.map { |e| e["pid"] }.uniq
puts "info the #{JOBS} jobs ran in #{pids_used.size} process(es)"

ran = seen[later] || []
check(ran.size == 1, "the perform_in(3) job ran exactly once (#{ran.size} runs)")
if ran.size == 1
  t = ran[0]["time"]
  check(t >= sent + 3 && t < sent + 15,
        format("perform_in(3) job pushed at %.3f ran at %.3f: +%.3f s (not before +3 s, within " \
               "+15 s)", sent, t, t - sent))
end

tries = seen[flaky] || []
check(tries.map { |e| e["retry_count"] } == [nil, 0],
      "the flaky job ran twice: first try, then retry 0 (#{tries.map { |e| e['retry_count'] }})")
if tries.size == 2 && retry_at
  gap = tries[1]["time"] - tries[0]["time"]
  check(tries[1]["time"] >= retry_at.to_f,
        format("its retry ran at %.3f, not before its retry-set time %.3f (%.3f s after the " \
               "first try)", tries[1]["time"], retry_at.to_f, gap))
  check(gap >= 1, format("and at least 1 s after the first try (%.3f s)", gap))
end

check(Sidekiq::Queue.new(QUEUE).size.zero?, "queue #{QUEUE} is empty")
check(Sidekiq::ScheduledSet.new.size.zero?, "schedule set is empty")
check(Sidekiq::RetrySet.new.size.zero?, "retry set is empty")
check(Sidekiq::DeadSet.new.size.zero?, "dead set is empty")
stats = Sidekiq::Stats.new
check(stats.processed == JOBS + 3 && stats.failed == 1,
      "stats: #{JOBS + 3} processed, 1 failed (#{stats.processed}, #{stats.failed})")
check(Sidekiq::ProcessSet.new.size.zero?, "no process left in the process set")

pids.each_key do |name|
  # The flaky job's first try logs its exception (two WARN lines); nothing else should.
  bad = File.readlines("#{name}.log").grep(/ (ERROR|FATAL|WARN): /)
            .reject { |l| l =~ /Flaky|e2e_app\.rb/ }
  shown = bad.first(5).map { |l| "\n       " + l.strip }.join
  check(bad.empty?, "sidekiq #{name} logged no unexpected warning or error#{shown}")
end

show_logs(pids.keys) unless $failures.empty?
if $failures.empty?
  exit 0
else
  puts "#{$failures.size} check(s) failed:", $failures.map { |f| "  " + f }
  exit 1
end
