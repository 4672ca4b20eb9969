" Vim syntax file
" Language:     tcproutec route files (.tr), see tcproutec.tr(5)
" Install:      copy contrib/vim/ into ~/.vim/; contrib/vim/ftdetect/tr.vim
"               sets the filetype.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
" '-' is part of names (client-ip, route names), so words end around it.
setlocal iskeyword=@,48-57,_,-

syn keyword trStatement   include define defaults route policy
syn keyword trItem        listen server balance snat allow affinity comment
syn keyword trProtocol    tcp udp
syn keyword trOption      weight drain on from timeout client-ip forward
syn keyword trValue       random roundrobin masquerade none drop accept

syn match   trComment     "#.*$" contains=trTodo,@Spell
syn keyword trTodo        contained TODO FIXME XXX NOTE
syn region  trString      start=+"+ end=+"+ end=+$+ oneline contains=@Spell

syn match   trVariable    "\$[A-Za-z_][A-Za-z0-9_-]*"
" After a route's keyword, its name.
syn match   trRouteName   "\%(\<route\s\+\)\@<=[A-Za-z_][A-Za-z0-9_-]*"
syn match   trDefineName  "\%(\<define\s\+\)\@<=[A-Za-z_][A-Za-z0-9_-]*"

" Ports, weights, durations; then addresses, defined later so that they win
" where both match: 192.0.2.1, 198.51.100.0/24, [2001:db8::1], 2001:db8::/32.
syn match   trNumber      "\<\d\+\>"
syn match   trDuration    "\<\d\+[smh]\>"
syn match   trIPv4        "\<\d\{1,3}\%(\.\d\{1,3}\)\{3}\%(/\d\{1,2}\)\=\>"
syn match   trIPv6        "\x*\%(:\x*\)\{2,8}\%(\.\d\+\)\{0,3}\%(/\d\{1,3}\)\="
syn match   trAny         "\*"

syn match   trDelimiter   "[{}\[\];,=]"

hi def link trStatement   Statement
hi def link trItem        Keyword
hi def link trProtocol    Type
hi def link trOption      Special
hi def link trValue       Constant
hi def link trComment     Comment
hi def link trTodo        Todo
hi def link trString      String
hi def link trVariable    Identifier
hi def link trRouteName   Function
hi def link trDefineName  Identifier
hi def link trIPv4        Number
hi def link trIPv6        Number
hi def link trNumber      Number
hi def link trDuration    Number
hi def link trAny         Special
hi def link trDelimiter   Delimiter

let b:current_syntax = 'tr'

let &cpo = s:cpo_save
unlet s:cpo_save
