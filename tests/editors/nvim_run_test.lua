-- Run by tests/editors.rs: `nvim --headless -u NONE -i NONE -c "luafile tests/editors/nvim_run_test.lua"`
-- with OSPECC_NVIM_RTP, OSPECC_BIN, OSPECC_FIXTURE (a mock-only topology), OSPECC_FAIL_LINE (a
-- line inside the failing test) and OSPECC_NVIM_OUT. It runs :OspeccRun on that line and
-- `:OspeccRun test_health`, and records what came back. Every wait is bounded; the script
-- always writes its result and quits.

local out = os.getenv("OSPECC_NVIM_OUT")
local result = {}

local function write_result()
  local file = io.open(out, "w")
  if file then
    file:write(vim.fn.json_encode(result))
    file:close()
  end
end

local function run_diagnostics(bufnr)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == "ospecc-run" then
      table.insert(found, { lnum = d.lnum, message = d.message, severity = d.severity })
    end
  end
  return found
end

local function run()
  vim.opt.runtimepath:prepend(os.getenv("OSPECC_NVIM_RTP"))
  vim.cmd("filetype plugin on")
  local ospecc = require("ospecc").setup({ path = os.getenv("OSPECC_BIN"), init_options = { debounceMs = 0 } })
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("OSPECC_FIXTURE")))
  local bufnr = vim.api.nvim_get_current_buf()
  result.attached = vim.wait(30000, function()
    for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
      if c.name == "ospecc" and c.initialized ~= false then
        return true
      end
    end
    return false
  end, 50)
  if not result.attached then
    return
  end
  result.commands = vim.fn.exists(":OspeccRun") == 2
  result.tests = vim.tbl_map(function(t)
    return t.name
  end, ospecc.tests(bufnr))

  -- The cursor inside test_slow_is_up: :OspeccRun runs that test.
  vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv("OSPECC_FAIL_LINE")), 4 })
  vim.cmd("OspeccRun")
  result.first_done = vim.wait(120000, function()
    return ospecc.last_result ~= nil
  end, 100)
  result.first = ospecc.last_result
  result.failure_published = vim.wait(30000, function()
    return #run_diagnostics(bufnr) > 0
  end, 100)
  result.diagnostics = run_diagnostics(bufnr)

  -- By name.
  ospecc.last_result = nil
  vim.cmd("OspeccRun test_health")
  result.second_done = vim.wait(120000, function()
    return ospecc.last_result ~= nil
  end, 100)
  result.second = ospecc.last_result
end

local ok, err = pcall(run)
if not ok then
  result.error = tostring(err)
end
write_result()
vim.cmd("qa!")
