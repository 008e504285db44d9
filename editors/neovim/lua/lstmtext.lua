-- lstmtext's ghost text and completion menu in Neovim 0.7 or later, through `lstmtext lsp` and Neovim's built-in
-- LSP client. Ghost text: after each keystroke at the end of a line, the server's textDocument/inlineCompletion
-- answer is drawn after the cursor (virtual text, highlight LstmtextGhost); <Tab> accepts it all, <C-Right> its
-- next word. Menu: <C-x><C-o> (omnifunc). Neovim 0.12's own vim.lsp.inline_completion works too (see docs/editors.md).
--
--   require("lstmtext").setup({ filetypes = { "text", "markdown" }, init_options = { n = 5 } })

local M = {}

local defaults = {
  cmd = { "lstmtext", "lsp" },
  filetypes = { "text", "markdown", "gitcommit", "mail" },
  init_options = {}, -- the server's settings: model, n, until, maxTokens, ghostChars, budgetMs, adapt
  keys = { accept = "<Tab>", accept_word = "<C-Right>" },
}

local namespace = vim.api.nvim_create_namespace("lstmtext")
local as_methods = vim.fn.has("nvim-0.11") == 1 -- client functions are methods from 0.11 (the dot form deprecated)
local client_id -- one server for every buffer
local ghost = {} -- bufnr -> { key, row, col, text } of the ghost text shown now
local asked = {} -- bufnr -> { key, request_id } of the request in flight

local function call(client, name, ...)
  if as_methods then
    return client[name](client, ...)
  end
  return client[name](...)
end

local function hide(bufnr)
  vim.api.nvim_buf_clear_namespace(bufnr, namespace, 0, -1)
  ghost[bufnr] = nil
end

local function show(bufnr, key, row, col, text)
  local lines = vim.split(text, "\n", { plain = true })
  local below = {}
  for index = 2, #lines do
    below[#below + 1] = { { lines[index], "LstmtextGhost" } }
  end
  vim.api.nvim_buf_set_extmark(bufnr, namespace, row, col, {
    virt_text = { { lines[1], "LstmtextGhost" } },
    virt_text_pos = "overlay",
    virt_lines = #below > 0 and below or nil,
  })
  ghost[bufnr] = { key = key, row = row, col = col, text = text }
end

-- Typing what the ghost text says keeps the rest of it in place while the next request runs (and after an empty
-- answer): it is redrawn after the cursor at once, so the ghost text never blinks out. True if it still matches.
local function keep_matching(bufnr, key, row, col)
  local shown = ghost[bufnr]
  if not shown or shown.row ~= row or col < shown.col then
    return false
  end
  local typed = vim.api.nvim_get_current_line():sub(shown.col + 1, col)
  local rest = shown.text:sub(#typed + 1)
  if shown.text:sub(1, #typed) ~= typed or rest == "" then
    return false
  end
  vim.api.nvim_buf_clear_namespace(bufnr, namespace, 0, -1)
  show(bufnr, key, row, col, rest)
  return true
end

local function cursor_key(bufnr)
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  return table.concat({ vim.api.nvim_buf_get_changedtick(bufnr), row, col }, ":"), row - 1, col
end

-- Ask for ghost text at the cursor, cancelling the request a keystroke ago; draw the answer if the cursor has not
-- moved since. Only at the end of a line: overlaid text would hide what follows the cursor. What still matches of
-- the last suggestion stays until a new one comes.
local function ask(bufnr)
  local client = client_id and vim.lsp.get_client_by_id(client_id)
  local key, row, col = cursor_key(bufnr)
  if not client or not client.initialized or (asked[bufnr] or ghost[bufnr] or {}).key == key then
    return -- (a keystroke is both a change and a move: ask once)
  end
  if asked[bufnr] then
    call(client, "cancel_request", asked[bufnr].request_id)
    asked[bufnr] = nil
  end
  local at_end = col >= #vim.api.nvim_get_current_line()
  if not (at_end and keep_matching(bufnr, key, row, col)) then
    hide(bufnr)
  end
  if not at_end then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- automatic: typing
  local ok, request_id = call(client, "request", "textDocument/inlineCompletion", params, function(err, result)
    if asked[bufnr] and asked[bufnr].key == key then
      asked[bufnr] = nil
    end
    local items = result and (result.items or result) or {}
    if err or not items[1] or cursor_key(bufnr) ~= key or vim.api.nvim_get_mode().mode ~= "i" then
      return
    end
    local text = type(items[1].insertText) == "table" and items[1].insertText.value or items[1].insertText
    if text and text ~= "" then -- an empty answer keeps what still matches
      hide(bufnr)
      show(bufnr, key, row, col, text)
    end
  end, bufnr)
  if ok then
    asked[bufnr] = { key = key, request_id = request_id }
  end
end

-- Insert the ghost text (or its next word) at the cursor; false if none is shown.
local function accept(bufnr, next_word_only)
  local shown = ghost[bufnr]
  if not shown then
    return false
  end
  local text = next_word_only and (shown.text:match("^%s*[^%s]+") or shown.text) or shown.text
  vim.api.nvim_buf_clear_namespace(bufnr, namespace, 0, -1) -- the rest is redrawn as typed (keep_matching)
  ghost[bufnr] = { row = shown.row, col = shown.col, text = shown.text }
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, shown.row, shown.col, shown.row, shown.col, lines)
  local last_col = (#lines == 1 and shown.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { shown.row + #lines, last_col })
  return true
end

local function map_accept(bufnr, lhs, next_word_only)
  vim.keymap.set("i", lhs, function()
    if not accept(bufnr, next_word_only) then
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(lhs, true, false, true), "n", false)
    end
  end, { buffer = bufnr, desc = "lstmtext: accept the ghost text" })
end

-- Start the server once and attach the buffer to it: vim.lsp.start from 0.8, start_client before.
local function start(bufnr, options)
  local config = { name = "lstmtext", cmd = options.cmd, init_options = options.init_options }
  if vim.lsp.start then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local id = client_id and vim.lsp.get_client_by_id(client_id) and client_id or vim.lsp.start_client(config)
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

local function attach(bufnr, options)
  client_id = start(bufnr, options)
  if not client_id then
    return
  end
  vim.bo[bufnr].omnifunc = "v:lua.vim.lsp.omnifunc"
  local group = vim.api.nvim_create_augroup("lstmtext_buffer_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "TextChangedI", "TextChangedP", "CursorMovedI" }, {
    group = group, buffer = bufnr, callback = function() ask(bufnr) end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group, buffer = bufnr, callback = function() hide(bufnr) end,
  })
  map_accept(bufnr, options.keys.accept, false)
  map_accept(bufnr, options.keys.accept_word, true)
end

function M.setup(options)
  options = vim.tbl_extend("force", defaults, options or {}) -- lists replaced, not merged
  options.keys = vim.tbl_extend("force", defaults.keys, options.keys or {})
  vim.api.nvim_set_hl(0, "LstmtextGhost", { default = true, link = "Comment" })
  vim.api.nvim_create_autocmd("FileType", {
    group = vim.api.nvim_create_augroup("lstmtext", { clear = true }),
    pattern = options.filetypes,
    callback = function(args) attach(args.buf, options) end,
  })
end

return M
